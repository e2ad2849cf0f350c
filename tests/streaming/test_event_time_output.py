"""Event time and output with TestStream: late entries land in their own date partition, and
running the same input again adds no rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from pipelines.query import connect
from tests.factories import make_article
from transforms.dedup_url import DropSeenUrls
from transforms.write import WriteParquetPartitions

SEEN = datetime(2025, 6, 20, 12, tzinfo=UTC)


def _stream() -> TestStream:
    fresh = make_article("fresh text " * 20, "https://ex.org/fresh", published_at=SEEN, first_seen_at=SEEN)
    # Published three weeks before it is first seen: a late entry in event time.
    late = make_article(
        "late text " * 20,
        "https://ex.org/late",
        published_at=datetime(2025, 5, 30, 23, 59, tzinfo=UTC),
        first_seen_at=SEEN,
    )
    undated = make_article("undated " * 20, "https://ex.org/undated", first_seen_at=SEEN)
    ts = SEEN.timestamp()
    return (
        TestStream()
        .add_elements([TimestampedValue(fresh, ts)])
        .advance_watermark_to(ts + 3600)
        .add_elements([TimestampedValue(late, late.published_at.timestamp())])  # type: ignore[union-attr]
        .add_elements([TimestampedValue(undated, ts + 7200), TimestampedValue(fresh, ts + 7200)])
        .advance_watermark_to_infinity()
    )


def _run(output: Path) -> None:
    with TestPipeline(options=StandardOptions(streaming=True)) as p:
        _ = (
            p
            | _stream()
            | DropSeenUrls(lambda a: a.url, ttl_s=30 * 86400, reason="url")
            | WriteParquetPartitions(str(output), batch_size=10, max_buffering_s=1)
        )


def test_late_entries_go_to_their_date_and_a_rerun_adds_no_rows(tmp_path: Path) -> None:
    _run(tmp_path)
    rows = connect(tmp_path).sql("SELECT url, CAST(date AS VARCHAR) FROM articles ORDER BY url").fetchall()
    assert rows == [
        ("https://ex.org/fresh", "2025-06-20"),
        ("https://ex.org/late", "2025-05-30"),  # its publication day, not the day it was seen
        ("https://ex.org/undated", "2025-06-20"),  # no date: the day it was first seen
    ]
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet"))
    _run(tmp_path)  # a restart over the same input
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet")) == files
    assert connect(tmp_path).sql("SELECT count(*) FROM articles").fetchall() == [(3,)]
