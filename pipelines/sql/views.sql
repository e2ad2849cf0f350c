-- newsbeam: the views `articles` and `failures` over an output directory, for the duckdb CLI
-- (newsbeam's own commands create the same views in Python: pipelines/query.py `connect`,
-- which runs this file statement by statement).
--
-- Parameter (a DuckDB variable): output  VARCHAR  the output directory, e.g. 'data'
--
--   duckdb -c "SET VARIABLE output = 'data'" -c ".read pipelines/sql/views.sql" \
--          -c "FROM articles LIMIT 3"
--
-- `date` comes from the date=YYYY-MM-DD directories (Hive partitioning). A table with no file
-- yet makes the file views fail with "No files found": newsbeam's Python views are empty instead.
--
-- `articles` is the rows as written (`article_files`) with `duplicate_of` and `story_id`
-- followed to their roots (`article_roots`): the pipeline writes each article's direct link,
-- its earliest near-duplicate and its best earlier story match, which may itself be a copy or
-- have joined an earlier story; the root is where the chain ends: the earliest copy of a
-- syndicated text, the first article of a story. `newsbeam compact` writes the roots into the
-- files it merges. Chains longer than 100 links stop there.

CREATE OR REPLACE VIEW article_files AS
SELECT *
FROM read_parquet(
    getvariable('output') || '/articles/date=*/*.parquet',
    hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = true
);

CREATE OR REPLACE VIEW failures AS
SELECT *
FROM read_parquet(
    getvariable('output') || '/failures/date=*/*.parquet',
    hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = true
);

CREATE OR REPLACE VIEW article_roots AS
WITH RECURSIVE
links AS (
    SELECT
        article_id,
        any_value(duplicate_of) FILTER (WHERE duplicate_of <> article_id) AS duplicate_of,
        any_value(story_id) FILTER (WHERE story_id <> article_id) AS story_id
    FROM article_files
    GROUP BY article_id
),
firsts AS (
    SELECT article_id, 'duplicate' AS kind, duplicate_of AS target FROM links WHERE duplicate_of IS NOT NULL
    UNION ALL
    SELECT article_id, 'story' AS kind, story_id AS target FROM links WHERE story_id IS NOT NULL
),
chains(article_id, kind, target, depth) AS (
    SELECT article_id, kind, target, 1 FROM firsts
    UNION ALL
    SELECT c.article_id, c.kind, next.target, c.depth + 1
    FROM chains AS c
    JOIN firsts AS next ON next.article_id = c.target AND next.kind = c.kind
    WHERE c.depth < 100
)
SELECT
    article_id,
    arg_max(target, depth) FILTER (WHERE kind = 'duplicate') AS duplicate_root,
    arg_max(target, depth) FILTER (WHERE kind = 'story') AS story_root
FROM chains
GROUP BY article_id;

CREATE OR REPLACE VIEW articles AS
SELECT f.* REPLACE (
    coalesce(r.duplicate_root, f.duplicate_of) AS duplicate_of,
    CASE WHEN f.story_id IS NULL THEN NULL ELSE coalesce(r.story_root, f.story_id) END AS story_id
)
FROM article_files AS f
LEFT JOIN article_roots AS r USING (article_id);
