-- newsbeam: the views `articles` and `failures` over an output directory, for the duckdb CLI
-- (newsbeam's own commands create the same views in Python: pipelines/query.py `connect`).
--
-- Parameter (a DuckDB variable): output  VARCHAR  the output directory, e.g. 'data'
--
--   duckdb -c "SET VARIABLE output = 'data'" -c ".read pipelines/sql/views.sql" \
--          -c "FROM articles LIMIT 3"
--
-- `date` comes from the date=YYYY-MM-DD directories (Hive partitioning). A table with no file
-- yet makes the view fail with "No files found": newsbeam's Python views are empty instead.
CREATE OR REPLACE VIEW articles AS
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
