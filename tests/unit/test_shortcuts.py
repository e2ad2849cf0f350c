"""``newsbeam stories|entities|failures`` and the SQL files behind them, over a small Parquet output."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.query import connect
from pipelines.shortcuts import printable, run_sql, sql_path, sql_text
from tests.output_factory import G7, HOSTILE, KURSK, QUAKE, article, newsroom, write_output

DAY1, DAY2 = date(2025, 6, 16), date(2025, 6, 17)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    articles, failures = newsroom()
    return write_output(tmp_path_factory.mktemp("out"), articles, failures, files_per_partition=2)


def _rows(output: Path, name: str, **params: object) -> list[dict]:
    relation = run_sql(connect(output), name, **params)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_stories_group_on_story_id_and_take_the_earliest_title(output: Path) -> None:
    stories = _rows(output, "stories")

    assert [(s["story_id"], s["articles"], s["outlets"]) for s in stories[:2]] == [
        ("s-kursk", 4, 3),
        ("s-g7", 2, 2),
    ]
    assert stories[0]["title"] == KURSK  # k1: first seen, although k4 is filed under a later date
    assert stories[0]["publishers"] == "Harbor Times, Metro Wire, Valley Observer"
    assert stories[1]["title"] == G7
    # an article without story_id is a story of its own; a missing publisher falls back to the domain
    singles = {s["story_id"]: s for s in stories[2:]}
    assert set(singles) == {"q1", "h1", "n1"}
    assert singles["n1"]["publishers"] == "nopublisher.example"
    assert singles["q1"]["title"] == QUAKE


def test_story_ties_on_first_seen_are_broken_by_article_id(tmp_path: Path) -> None:
    same = dict(story_id="s", publisher="P")
    out = write_output(tmp_path, [article("b", title="second", **same), article("a", title="first", **same)])

    assert _rows(out, "stories")[0]["title"] == "first"


def test_stories_date_and_top_parameters(output: Path) -> None:
    on_day2 = _rows(output, "stories", date=DAY2)
    assert [(s["story_id"], s["articles"]) for s in on_day2 if s["story_id"] == "s-kursk"] == [("s-kursk", 1)]
    assert {s["story_id"] for s in on_day2} == {"s-kursk", "q1", "h1", "n1"}
    assert len(_rows(output, "stories", top=1)) == 1
    assert _rows(output, "stories", date="2025-06-16", top=5)[0]["articles"] == 3  # ISO strings work too


def test_entities_group_on_key_and_filter_on_label(output: Path) -> None:
    people = _rows(output, "entities", label="person")

    assert [(e["key"], e["name"], e["articles"], e["mentions"]) for e in people] == [
        ("kim jong un", "Kim Jong Un", 3, 6),
        ("sergei shoigu", "Sergei Shoigu", 2, 6),
    ]
    top = _rows(output, "entities", top=2)
    assert [e["key"] for e in top] == ["russia", "g7"]
    assert {e["key"] for e in _rows(output, "entities", date=DAY2)} == {"kim jong un", "aceh"}


def test_failures_by_stage_and_error_type(output: Path) -> None:
    rows = _rows(output, "failures")

    assert [(f["stage"], f["error_type"], f["failures"], f["urls"]) for f in rows] == [
        ("fetch", "http_404", 2, 2),
        ("extract", "not_an_article", 1, 1),
        ("feed", "malformed_feed", 1, 1),
    ]
    assert rows[0]["last_message"] == "HTTP 404"
    assert [f["stage"] for f in _rows(output, "failures", date=DAY2)] == ["extract", "feed"]


def test_variables_left_unset_do_not_leak_between_runs(output: Path) -> None:
    db = connect(output)
    assert len(run_sql(db, "stories", top=1).fetchall()) == 1
    assert len(run_sql(db, "stories", top=None).fetchall()) == 5


def test_unknown_parameters_are_refused(output: Path) -> None:
    with pytest.raises(ValueError, match="unknown query parameter"):
        run_sql(connect(output), "stories", limit=3)


def test_the_files_run_as_the_readme_shows_them_in_plain_duckdb(output: Path) -> None:
    """The README's Python recipe: views.sql, then a query file, variables set by SET VARIABLE."""
    db = duckdb.connect()
    db.execute("SET VARIABLE output = ?", [str(output)])
    db.execute(sql_path("views").read_text())
    db.execute("SET VARIABLE top = 1")
    assert db.sql(sql_path("stories").read_text()).fetchall()[0][0] == "s-kursk"
    db.execute("SET VARIABLE label = 'GPE'")
    assert [row[0] for row in db.sql(sql_text("entities")).fetchall()] == ["russia"]


def test_control_characters_are_not_printed() -> None:
    import pyarrow as pa

    table = printable(pa.table({"title": ["a\x1b[31mred\x07", None], "n": [1, 2]}))
    assert table.column("title").to_pylist() == ["a [31mred ", None]


def test_cli_shortcuts(output: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stories", "--output", str(output), "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert "s-kursk" in text
    assert KURSK[:50] in text
    assert "s-g7" in text
    assert main(["entities", "--output", str(output), "--label", "PERSON", "--date", "2025-06-16"]) == 0
    assert "kim jong un" in capsys.readouterr().out
    assert main(["failures", "--output", str(output)]) == 0
    assert "http_404" in capsys.readouterr().out
    assert main(["stories", "--output", str(output), "--date", "2020-01-01"]) == 0
    assert f"no articles on 2020-01-01 in {output}" in capsys.readouterr().out
    assert main(["entities", "--output", str(output), "--label", "LAW"]) == 0
    assert "no entities labelled LAW" in capsys.readouterr().out


def test_cli_says_so_when_there_is_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("stories", "entities", "failures"):
        assert main([command, "--output", str(tmp_path)]) == 1
        assert "no newsbeam output in" in capsys.readouterr().err


def test_cli_rejects_a_bad_date(output: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["stories", "--output", str(output), "--date", "16/06/2025"])
    assert "not a date" in capsys.readouterr().err


def test_hostile_titles_are_data(output: Path) -> None:
    assert any(s["title"] == HOSTILE for s in _rows(output, "stories"))
