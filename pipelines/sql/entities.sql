-- newsbeam entities: the most mentioned named entities, grouped on their `key` (case and
-- spacing folded, leading "the" and trailing possessive dropped: 'kim jong un').
--
-- `name` and `label` are those of the entity's most counted mention; `mentions` adds up the
-- per-article counts, `articles` and `outlets` count where it was mentioned.
--
-- Parameters (DuckDB variables; an unset one means "no filter" or the default):
--   date   DATE     only articles filed under date=YYYY-MM-DD (an ISO string works too)
--   label  VARCHAR  only this spaCy label, e.g. 'PERSON', 'ORG', 'GPE' (case-insensitive)
--   top    INTEGER  how many entities (default 20)
-- Needs the view `articles`.
WITH mentions AS (
    SELECT article_id, outlet, e.text, e.key, e.label, e.count
    FROM (
        SELECT article_id, coalesce(publisher, source_domain) AS outlet, unnest(entities) AS e
        FROM articles
        WHERE getvariable('date') IS NULL OR date = CAST(getvariable('date') AS DATE)
    )
    WHERE getvariable('label') IS NULL OR e.label = upper(getvariable('label'))
)
SELECT
    key,
    arg_max(text, count) AS name,
    arg_max(label, count) AS label,
    count(DISTINCT article_id) AS articles,
    count(DISTINCT outlet) AS outlets,
    sum(count) AS mentions
FROM mentions
GROUP BY key
ORDER BY mentions DESC, articles DESC, key
LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 20);
