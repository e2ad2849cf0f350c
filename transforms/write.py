"""Stage 6, ``WriteParquetPartitions``: Hive-partitioned Parquet that survives retries.

Records are keyed by ``(table, date)`` and batched with ``GroupIntoBatches`` (a size and a
maximum buffering time); each batch becomes one zstd Parquet file, written under a
temporary name and renamed.  The file name is a hash of the batch's rows, so a retried
bundle rewrites the same file instead of adding a second copy.  ``date`` is only in the
directory name.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from transforms import metrics
from transforms.records import Article, Failure
from transforms.schema import article_row, failure_row, partition_date, to_table

ROW_KEYS = {
    "articles": ("article_id",),
    "failures": ("stage", "url", "feed_url", "error_type", "at"),
}


def partition_key(record: Article | Failure) -> tuple[str, str]:
    """``(table, YYYY-MM-DD)`` of a record."""
    table = "failures" if isinstance(record, Failure) else "articles"
    return table, partition_date(record).isoformat()


def to_row(record: Article | Failure) -> dict[str, Any]:
    return failure_row(record) if isinstance(record, Failure) else article_row(record)


def batch_name(table: str, rows: list[dict[str, Any]]) -> str:
    """A file name derived from the identities of the rows in a batch."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([str(row[k]) for k in ROW_KEYS[table]]).encode("utf-8"))
    return f"part-{digest.hexdigest()[:32]}.parquet"


def sort_rows(table: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows in key order, each key once (the first of repeats is kept).

    A runner that re-delivers an element into the same batch (Prism does, around bursts of
    timers: apache/beam#35771) would otherwise write the same row twice into one file.
    """
    unique: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(tuple(str(row[k]) for k in ROW_KEYS[table]), row)
    return [unique[key] for key in sorted(unique)]


def partition_dir(output: str, table: str, day: str) -> str:
    return FileSystems.join(output, table, f"date={date.fromisoformat(day).isoformat()}")


def write_batch(output: str, table: str, day: str, rows: Iterable[dict[str, Any]]) -> str:
    """Write one batch as a Parquet file; returns its path."""
    ordered = sort_rows(table, rows)
    directory = partition_dir(output, table, day)
    final = FileSystems.join(directory, batch_name(table, ordered))
    temporary = FileSystems.join(directory, f".tmp-{uuid.uuid4().hex}.parquet.partial")  # not *.parquet
    with FileSystems.create(temporary) as handle:  # creates missing directories
        pq.write_table(to_table(table, ordered), handle, compression="zstd")
    FileSystems.rename([temporary], [final])
    return final


class _WriteBatchFn(beam.DoFn):
    def __init__(self, output: str) -> None:
        self._output = output

    def setup(self) -> None:
        self._rows = {table: metrics.counter(f"rows_written_{table}") for table in ROW_KEYS}
        self._files = metrics.counter("files_written")
        self._repeats = metrics.counter("repeated_rows_dropped")

    def process(self, element: tuple[tuple[str, str], Iterable[dict[str, Any]]]) -> Iterator[str]:
        (table, day), rows = element
        received = list(rows)
        rows = sort_rows(table, received)
        self._repeats.inc(len(received) - len(rows))
        path = write_batch(self._output, table, day, rows)
        self._rows[table].inc(len(rows))
        self._files.inc()
        yield path


class WriteParquetPartitions(beam.PTransform):
    """``Article`` and ``Failure`` records in; paths of written files out."""

    def __init__(self, output: str, batch_size: int = 1000, max_buffering_s: float = 60.0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._output = output
        self._batch_size = batch_size
        self._max_buffering_s = max_buffering_s

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        return (
            records
            | "Key by table and date"
            >> beam.Map(lambda record: (partition_key(record), to_row(record))).with_output_types(
                tuple[tuple[str, str], dict[str, Any]]
            )
            | "Batch"
            >> beam.GroupIntoBatches(self._batch_size, max_buffering_duration_secs=self._max_buffering_s)
            | "Write Parquet" >> beam.ParDo(_WriteBatchFn(self._output))
        )
