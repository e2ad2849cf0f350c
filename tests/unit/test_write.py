"""The Parquet writer's file handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_beam.io.filesystems import FileSystems

from pipelines.query import connect
from tests.factories import make_article
from transforms.schema import article_row
from transforms.write import write_batch


def test_a_file_interrupted_before_its_rename_is_invisible_to_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [article_row(make_article("text " * 10, f"https://ex.org/{i}")) for i in range(3)]
    write_batch(str(tmp_path), "articles", "2025-06-20", rows[:1])

    def crash(*_: object) -> None:
        raise OSError("killed before the rename")

    monkeypatch.setattr(FileSystems, "rename", crash)
    with pytest.raises(OSError, match="killed"):
        write_batch(str(tmp_path), "articles", "2025-06-20", rows[1:])
    assert len(list(tmp_path.rglob("*.partial"))) == 1  # the half-done file is there…
    assert connect(tmp_path).sql("SELECT count(*) FROM articles").fetchall() == [(1,)]  # …but unseen


def test_a_row_delivered_twice_into_one_batch_is_written_once(tmp_path: Path) -> None:
    rows = [article_row(make_article("text " * 10, f"https://ex.org/{i}")) for i in range(3)]
    redelivered = [rows[2], rows[0], rows[1], rows[0]]  # as Prism may re-deliver around timers
    path = write_batch(str(tmp_path), "articles", "2025-06-20", redelivered)
    assert Path(path).name == Path(write_batch(str(tmp_path / "b"), "articles", "2025-06-20", rows)).name
    ids = connect(tmp_path).sql("SELECT article_id FROM articles ORDER BY article_id").fetchall()
    assert [i for (i,) in ids] == sorted(row["article_id"] for row in rows)
