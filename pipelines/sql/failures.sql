-- newsbeam failures: dead-letter rows by stage and error type, the most frequent first.
--
-- Parameter (a DuckDB variable, optional):
--   date  DATE  only failures filed under date=YYYY-MM-DD (the UTC date of `at`)
-- Needs the view `failures`.
SELECT
    stage,
    error_type,
    count(*) AS failures,
    count(DISTINCT url) AS urls,
    date_trunc('second', min("at")) AS first_at,
    date_trunc('second', max("at")) AS last_at,
    arg_max(message, "at") AS last_message
FROM failures
WHERE getvariable('date') IS NULL OR date = CAST(getvariable('date') AS DATE)
GROUP BY stage, error_type
ORDER BY failures DESC, stage, error_type;
