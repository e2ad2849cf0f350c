"""``newsbeam compact``: same rows before and after, a readable state after a crash at any step,
and a reader running meanwhile never sees a wrong count."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines import compact
from pipelines.cli import main
from pipelines.compact import WORK_DIR, CompactionError, compact_output, compact_partition, visible_files
from pipelines.query import connect
from tests.output_factory import T0, article, failure, write_output

DAY = T0.date().isoformat()


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an ``Exception``, so no cleanup handler runs."""


def _articles(count: int) -> list[dict]:
    return [
        article(f"a{i:04d}", publisher=f"P{i % 3}", first_seen_at=T0 + timedelta(seconds=i))
        for i in range(count)
    ]


def _ids(output: Path) -> Counter[str]:
    return Counter(row[0] for row in connect(output).sql("SELECT article_id FROM articles").fetchall())


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return write_output(
        tmp_path / "out",
        _articles(120),
        [
            failure("fetch", "http_404", f"https://x.example/{i}", at=T0 + timedelta(seconds=i))
            for i in range(7)
        ],
        files_per_partition=12,
    )


def test_rows_are_identical_after_compaction(output: Path) -> None:
    before = _ids(output)
    live = output / "articles" / f"date={DAY}"
    assert len(visible_files(live)) == 12

    results = compact_output(output, min_age_s=0)

    assert _ids(output) == before
    assert sum(before.values()) == 120
    assert len(visible_files(live)) == 1
    assert {(r.table, r.files_before, r.files_after, r.rows) for r in results} == {
        ("articles", 12, 1, 120),
        ("failures", 7, 1, 7),
    }
    assert connect(output).sql("SELECT count(*) FROM failures").fetchall() == [(7,)]
    assert not list((output / WORK_DIR / "articles").iterdir())  # nothing staged or retired left


def test_rerun_is_a_no_op_and_names_come_from_the_content(output: Path, tmp_path: Path) -> None:
    compact_output(output, min_age_s=0)
    name = visible_files(output / "articles" / f"date={DAY}")[0].name

    again = compact_output(output, min_age_s=0)

    assert {r.skipped for r in again} == {"nothing to merge"}
    other = write_output(tmp_path / "other", _articles(120), files_per_partition=5)
    compact_output(other, min_age_s=0)
    assert visible_files(other / "articles" / f"date={DAY}")[0].name == name


def test_max_rows_splits_the_merged_rows(output: Path) -> None:
    result = compact_partition(output, "articles", DAY, max_rows=50)

    assert (result.files_before, result.files_after, result.rows) == (12, 3, 120)
    assert sum(_ids(output).values()) == 120


@pytest.mark.parametrize("exchange", [True, False], ids=["rename-exchange", "two-renames"])
@pytest.mark.parametrize("step", ["staged", "linked", "half-swapped", "swapped", "moved"])
def test_a_crash_at_any_step_leaves_a_readable_state_and_the_next_run_finishes(
    output: Path, step: str, exchange: bool
) -> None:
    before = _ids(output)
    live = output / "articles" / f"date={DAY}"
    late = write_output(output.parent / "late", [article("late")]) / "articles" / f"date={DAY}"
    arrived = Counter[str]()

    def hook(at: str) -> None:
        if at == "swapped":  # a writer's file lands in the old directory after the link step
            old = output / WORK_DIR / "articles" / (f"date={DAY}" if exchange else f"date={DAY}.retired")
            (late / "part-articles-000.parquet").rename(old / "part-late.parquet")
            arrived["late"] += 1
        if at == step:
            raise SimulatedCrash(at)

    with pytest.raises(SimulatedCrash) if step != "half-swapped" or not exchange else nullcontext():
        compact_partition(output, "articles", DAY, hook=hook, allow_exchange=exchange)

    if step == "half-swapped" and not exchange:
        assert not live.exists()  # the fallback's one-rename window: the partition is absent
        assert _ids(output) == Counter()
    elif step == "swapped":
        assert _ids(output) == before  # the late file is still in the old directory
    else:
        assert _ids(output) == before + arrived

    compact_output(output, day=T0.date(), tables=("articles",), min_age_s=0)

    assert _ids(output) == before + arrived
    assert len(visible_files(live)) == 1
    assert not (live / compact.JOURNAL).exists()
    assert not list((output / WORK_DIR / "articles").iterdir())


def test_a_concurrent_reader_always_sees_every_row_once(tmp_path: Path) -> None:
    output = write_output(tmp_path / "out", _articles(400), files_per_partition=40)
    stop = threading.Event()
    counts: Counter[int] = Counter()
    errors: list[str] = []

    def read() -> None:
        db = connect(output)  # the view's glob is expanded again by every query
        while not stop.is_set():
            try:
                counts[db.sql("SELECT count(*) FROM articles").fetchall()[0][0]] += 1
            except duckdb.IOException as err:  # a listed file vanished: the query fails, retry it
                errors.append(str(err))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(5):
            compact_partition(output, "articles", DAY, max_rows=130)
            compact_partition(output, "articles", DAY, max_rows=50)
    finally:
        stop.set()
        reader.join()

    assert set(counts) == {400}, counts
    assert counts[400] > 0
    assert all("No such file" in e or "No files found" in e or "not exist" in e for e in errors), errors[:3]


def test_recently_written_partitions_are_skipped(output: Path) -> None:
    results = compact_output(output, min_age_s=3600)

    assert all(r.skipped and "min-age" in r.skipped for r in results)
    assert len(visible_files(output / "articles" / f"date={DAY}")) == 12


def test_one_compaction_at_a_time(output: Path) -> None:
    with compact._exclusive(output), pytest.raises(CompactionError, match="another"):
        compact_output(output, min_age_s=0)


def test_cli(output: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compact", "--output", str(output), "--min-age", "0", "--table", "articles"]) == 0
    assert f"articles/date={DAY}: 12 files -> 1 (120 rows" in capsys.readouterr().out
    assert main(["compact", "--output", str(output / "missing")]) == 1
    assert "no such directory" in capsys.readouterr().err
