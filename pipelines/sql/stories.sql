-- newsbeam stories: the stories with the widest coverage first.
--
-- A story is the set of articles sharing `story_id`; an article without one (story detection
-- off, or not run yet) is a story of its own. The headline is the title of the story's
-- canonical article: the earliest seen, by (first_seen_at, article_id). An outlet is the
-- article's publisher, else its source domain.
--
-- Parameters (DuckDB variables; an unset one means "no filter" or the default):
--   date  DATE     only articles filed under date=YYYY-MM-DD (an ISO string works too)
--   top   INTEGER  how many stories (default 20)
-- Needs the view `articles` (views.sql, or newsbeam's Python views).
WITH picked AS (
    SELECT
        coalesce(story_id, article_id) AS story,
        coalesce(publisher, source_domain) AS outlet,
        article_id,
        title,
        first_seen_at
    FROM articles
    WHERE getvariable('date') IS NULL OR date = CAST(getvariable('date') AS DATE)
),
ordered AS (
    SELECT
        *,
        row_number() OVER (PARTITION BY story ORDER BY first_seen_at, article_id) AS position
    FROM picked
)
SELECT
    story AS story_id,
    count(*) AS articles,
    count(DISTINCT outlet) AS outlets,
    string_agg(DISTINCT outlet, ', ' ORDER BY outlet) AS publishers,
    date_trunc('second', min(first_seen_at)) AS first_seen_at,
    date_trunc('second', max(first_seen_at)) AS last_seen_at,
    any_value(title) FILTER (WHERE position = 1) AS title
FROM ordered
GROUP BY story
ORDER BY outlets DESC, articles DESC, first_seen_at DESC, story_id
LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 20);
