"""DuckDB over the output: views ``articles`` and ``failures`` with Hive partitioning."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from transforms.schema import SCHEMAS


def connect(output: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per table of ``output`` (empty when none written)."""
    connection = duckdb.connect()
    for table, schema in SCHEMAS.items():
        files = sorted(Path(output, table).glob("date=*/*.parquet"))
        if files:
            pattern = str(Path(output, table, "date=*", "*.parquet")).replace("'", "''")
            connection.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{pattern}', "
                "hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = true)"
            )
        else:
            empty = pa.Table.from_pylist([], schema=schema.append(pa.field("date", pa.date32())))
            connection.register(f"_{table}_empty", empty)
            connection.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_empty")
    return connection


def format_result(relation: duckdb.DuckDBPyRelation | None, max_rows: int = 50) -> str:
    """A query result as an aligned text table."""
    if relation is None:
        return "(no result)"
    columns = relation.columns
    rows = relation.limit(max_rows + 1).fetchall()
    cells = [[str(c) for c in columns]] + [
        ["NULL" if v is None else str(v) for v in row] for row in rows[:max_rows]
    ]
    widths = [min(60, max(len(row[i]) for row in cells)) for i in range(len(columns))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(cell[:60].ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    if len(rows) > max_rows:
        lines.append(f"... (more than {max_rows} rows)")
    return "\n".join(lines)
