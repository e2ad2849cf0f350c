-- newsbeam story members: every article of the given stories, canonical article first.
--
-- Parameters (DuckDB variables):
--   stories  VARCHAR[]  story ids, as `stories.sql` returns them (required)
--   date     DATE       only articles filed under date=YYYY-MM-DD (optional)
-- Needs the view `articles`.
WITH picked AS (
    SELECT
        coalesce(story_id, article_id) AS story_id,
        article_id,
        coalesce(publisher, source_domain) AS outlet,
        title,
        url,
        published_at,
        first_seen_at,
        story_score
    FROM articles
    WHERE list_contains(getvariable('stories'), coalesce(story_id, article_id))
        AND (getvariable('date') IS NULL OR date = CAST(getvariable('date') AS DATE))
)
SELECT
    *,
    row_number() OVER (PARTITION BY story_id ORDER BY first_seen_at, article_id) AS position
FROM picked
ORDER BY story_id, position;
