-- newsbeam volume: articles per date partition and outlet (publisher, else source domain).
--
-- Parameter (a DuckDB variable, optional):
--   date  DATE  only this date partition
-- Needs the view `articles`.
SELECT date, coalesce(publisher, source_domain) AS outlet, count(*) AS articles
FROM articles
WHERE getvariable('date') IS NULL OR date = CAST(getvariable('date') AS DATE)
GROUP BY ALL
ORDER BY date, outlet;
