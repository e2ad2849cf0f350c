"""DuckDB over the output: the views of ``sql/views.sql`` (``articles`` with chains followed to
their roots, ``failures``), with Hive partitioning."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa

from transforms.schema import SCHEMAS

VIEWS_SQL = Path(__file__).parent / "sql" / "views.sql"
FILE_VIEWS = {"article_files": "articles", "failures": "failures"}  # view over a table's files
_CREATE_VIEW = re.compile(r"CREATE OR REPLACE VIEW (\w+) AS")


def view_statements() -> list[tuple[str, str]]:
    """``(view name, CREATE statement)`` of ``sql/views.sql``, in order."""
    text = "\n".join(
        line for line in VIEWS_SQL.read_text(encoding="utf-8").splitlines() if not line.startswith("--")
    )
    statements = [s.strip() for s in text.split(";") if s.strip()]
    return [(m.group(1), s) for s in statements if (m := _CREATE_VIEW.match(s))]


def connect(output: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the views of ``sql/views.sql`` over ``output``; a table with no
    file yet is an empty view instead of an error."""
    connection = duckdb.connect()
    connection.execute("SET VARIABLE output = ?", [str(output)])
    for view, statement in view_statements():
        table = FILE_VIEWS.get(view)
        if table is None or any(Path(output, table).glob("date=*/*.parquet")):
            connection.execute(statement)
            continue
        schema = SCHEMAS[table]
        empty = pa.Table.from_pylist([], schema=schema.append(pa.field("date", pa.date32())))
        connection.register(f"_{table}_empty", empty)
        connection.execute(f"CREATE VIEW {view} AS SELECT * FROM _{table}_empty")
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
