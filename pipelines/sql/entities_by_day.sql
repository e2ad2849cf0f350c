-- newsbeam entities over time: mentions per date partition of the most mentioned entities.
--
-- Parameters (DuckDB variables; an unset one means "no filter" or the default):
--   label  VARCHAR  only this spaCy label (case-insensitive)
--   top    INTEGER  how many entities (default 10), ranked on all dates together
-- Needs the view `articles`.
WITH mentions AS (
    SELECT date, article_id, e.text, e.key, e.label, e.count
    FROM (SELECT date, article_id, unnest(entities) AS e FROM articles)
    WHERE getvariable('label') IS NULL OR e.label = upper(getvariable('label'))
),
leaders AS (
    SELECT key, arg_max(text, count) AS name, arg_max(label, count) AS label, sum(count) AS total
    FROM mentions
    GROUP BY key
    ORDER BY total DESC, key
    LIMIT coalesce(CAST(getvariable('top') AS INTEGER), 10)
)
SELECT
    leaders.key,
    leaders.name,
    leaders.label,
    leaders.total,
    mentions.date,
    sum(mentions.count) AS mentions,
    count(DISTINCT mentions.article_id) AS articles
FROM mentions
JOIN leaders USING (key)
GROUP BY ALL
ORDER BY leaders.total DESC, leaders.key, mentions.date;
