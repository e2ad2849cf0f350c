"""The query shortcuts (``newsbeam stories|entities|failures``) over the SQL files in ``sql/``.

The SQL lives in versioned files (``pipelines/sql/*.sql``) that the ``duckdb`` CLI can run as
they are: parameters are DuckDB variables read with ``getvariable('name')``, set with
``SET VARIABLE name = value``; an unset variable is NULL and means "no filter" or the
default. This module sets them through prepared statements, so values are never spliced into
SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.query import connect, format_result

SQL_PACKAGE = "pipelines"
PARAMETERS = ("date", "top", "label", "stories", "output")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# C0 and C1 control characters (terminal escape sequences) in text from the web.
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"


def sql_path(name: str) -> Path:
    """The path of ``sql/<name>.sql`` inside the installed package."""
    return Path(str(resources.files(SQL_PACKAGE).joinpath("sql", f"{name}.sql")))


def sql_text(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    if not _NAME.match(name):
        raise ValueError(f"not a query name: {name!r}")
    return sql_path(name).read_text(encoding="utf-8")


def set_variables(connection: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> None:
    """``SET VARIABLE`` each parameter (``RESET`` those given as None), values bound, not spliced."""
    for name, value in params.items():
        if name not in PARAMETERS:
            raise ValueError(f"unknown query parameter {name!r}; known: {', '.join(PARAMETERS)}")
        if value is None:
            connection.execute(f"RESET VARIABLE {name}")
        else:
            connection.execute(f"SET VARIABLE {name} = ?", [value])


def run_sql(connection: duckdb.DuckDBPyConnection, name: str, **params: Any) -> duckdb.DuckDBPyRelation:
    """Run ``sql/<name>.sql`` on ``connection`` (which has the views) with ``params`` set."""
    set_variables(connection, params)
    relation = connection.sql(sql_text(name))
    if relation is None:  # the shortcut files are single SELECTs
        raise ValueError(f"sql/{name}.sql returned no result")
    return relation


def has_files(output: str | Path, table: str) -> bool:
    return any(Path(output, table).glob("date=*/*.parquet"))


def printable(table: pa.Table) -> pa.Table:
    """``table`` with control characters in its text columns replaced (titles come from the web)."""
    columns = [
        pc.replace_substring_regex(column, _CONTROL, " ") if pa.types.is_string(column.type) else column
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


def shortcut(
    output: str | Path,
    name: str,
    *,
    day: date | None = None,
    top: int | None = None,
    label: str | None = None,
) -> tuple[int, str]:
    """Run a shortcut for the CLI: ``(exit status, text to print)``.

    Status 1 when ``output`` holds no newsbeam files at all (most likely a wrong ``--output``),
    0 otherwise, with a sentence instead of an empty table when nothing matched.
    """
    if not (has_files(output, "articles") or has_files(output, "failures")):
        return 1, (
            f"no newsbeam output in {output}: no {Path(output, '{articles,failures}', 'date=*', '*.parquet')}"
            " (pass --output DIR, or run `newsbeam run` / `newsbeam demo` first)"
        )
    params: dict[str, Any] = {"date": day}
    if name != "failures":
        params["top"] = top
    if name == "entities":
        params["label"] = label
    connection = connect(output)
    result = run_sql(connection, name, **params).to_arrow_table()
    if result.num_rows == 0:
        where = f" on {day.isoformat()}" if day else ""
        what = {"stories": "articles", "entities": "tagged entities", "failures": "failures"}[name]
        if name == "entities" and label:
            what = f"entities labelled {label.upper()}"
        return 0, f"no {what}{where} in {output}"
    return 0, format_result(connection.from_arrow(printable(result)), max_rows=result.num_rows)
