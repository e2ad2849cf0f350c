"""Chains of links followed to their roots: the ``articles`` view, the shortcuts and ``compact``.

The pipeline writes each article's direct links (its earliest near-duplicate, its best earlier
story match); a copy of a copy and a story joined through an intermediate article must read as
the earliest copy and the story's first article everywhere a user looks.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.compact import compact_output
from pipelines.query import connect
from pipelines.shortcuts import run_sql
from tests.output_factory import T0, article, write_output

DAY2 = T0 + timedelta(days=1)


def chains() -> list[dict]:
    """A wire story copied twice in a row (orig <- copy1 <- copy2, copy2 on the next day), a story
    joined link by link (s0 <- s1 <- s2 <- s3, s3 a day later), and an article alone."""
    return [
        article("orig", story_id="orig"),
        article("copy1", first_seen_at=T0 + timedelta(minutes=5), duplicate_of="orig", story_id="orig"),
        article("copy2", published_at=DAY2, first_seen_at=DAY2, duplicate_of="copy1", story_id="copy1"),
        article("s0", publisher="A", story_id="s0"),
        article("s1", publisher="B", first_seen_at=T0 + timedelta(hours=1), story_id="s0"),
        article("s2", publisher="C", first_seen_at=T0 + timedelta(hours=2), story_id="s1"),
        article("s3", publisher="D", published_at=DAY2, first_seen_at=DAY2, story_id="s2"),
        article("alone", story_id="alone"),
        article("no-stories", story_id=None),  # story detection off when it was written
    ]


ROOTS = {
    "orig": (None, "orig"),
    "copy1": ("orig", "orig"),
    "copy2": ("orig", "orig"),
    "s0": (None, "s0"),
    "s1": (None, "s0"),
    "s2": (None, "s0"),
    "s3": (None, "s0"),
    "alone": (None, "alone"),
    "no-stories": (None, None),
}


def _links(output: Path) -> dict[str, tuple[str | None, str | None]]:
    rows = connect(output).sql("SELECT article_id, duplicate_of, story_id FROM articles").fetchall()
    return {a: (d, s) for a, d, s in rows}


def test_the_articles_view_follows_chains_across_partitions(tmp_path: Path) -> None:
    output = write_output(tmp_path / "out", chains())
    assert _links(output) == ROOTS
    raw = connect(output).sql("SELECT article_id, story_id FROM article_files WHERE article_id = 's3'")
    assert raw.fetchall() == [("s3", "s2")]  # the files keep what the pipeline decided


def test_the_stories_shortcut_counts_a_chained_story_once(tmp_path: Path) -> None:
    output = write_output(tmp_path / "out", chains())
    rows = run_sql(connect(output), "stories", top=10).fetchall()
    by_story = {row[0]: row[1:3] for row in rows}
    assert by_story["s0"] == (4, 4)  # four articles, four outlets
    assert by_story["orig"][0] == 3


def test_compact_writes_the_roots_into_the_merged_files(tmp_path: Path) -> None:
    output = write_output(tmp_path / "out", chains(), files_per_partition=3)
    compact_output(output, min_age_s=0)
    rows = pq.read_table(output / "articles").select(["article_id", "duplicate_of", "story_id"]).to_pylist()
    assert {r["article_id"]: (r["duplicate_of"], r["story_id"]) for r in rows} == ROOTS
    assert _links(output) == ROOTS
