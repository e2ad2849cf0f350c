"""``ReadBackfill``: a JSON-lines file of already-fetched articles, as if just fetched.

The contract (stable; benchmarks and later stages rely on it), one JSON object per line:

    {"url": str,                     required, absolute http(s)
     "publisher": str?,
     "published_at": str?,           ISO 8601; naive times are taken as UTC
     "title": str?, "text": str?,    used as extracted when "html" is absent
     "html": str?,                   extracted exactly as a fetched page would be
     "language": str?, "first_seen_at": str?, "feed_url": str?}

A line with ``html`` becomes a ``FetchedPage``; one with ``text`` a ``PreExtracted``.
Lines that cannot be used become ``Failure`` rows (stage ``backfill``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

from transforms import metrics
from transforms.extract import parse_datetime
from transforms.records import Extracted, Failure, FeedEntry, FetchedPage, PreExtracted
from transforms.urls import InvalidUrl, normalize_url

FAILURES = "failures"
STAGE = "backfill"


class InvalidLine(ValueError):
    pass


def _optional_str(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidLine(f"{key!r} must be a string, got {type(value).__name__}")
    return value.strip() or None


def _optional_time(record: dict[str, Any], key: str) -> datetime | None:
    value = _optional_str(record, key)
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise InvalidLine(f"{key!r} is not an ISO 8601 date or date-time: {value!r}")
    return parsed


def parse_line(line: str, now: datetime) -> FetchedPage | PreExtracted:
    """One backfill line as the record the pipeline would have produced by fetching."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise InvalidLine(f"not JSON: {err}") from err
    if not isinstance(record, dict):
        raise InvalidLine("a line must be a JSON object")
    link = _optional_str(record, "url")
    if link is None:
        raise InvalidLine("'url' is required")
    try:
        url = normalize_url(link)
    except InvalidUrl as err:
        raise InvalidLine(str(err)) from err
    title = _optional_str(record, "title")
    text = _optional_str(record, "text")
    html = record.get("html")
    if html is not None and not isinstance(html, str):
        raise InvalidLine("'html' must be a string")
    if not html and not text:
        raise InvalidLine("a line needs 'html' or 'text'")
    entry = FeedEntry(
        link=link,
        url=url,
        feed_url=_optional_str(record, "feed_url"),
        publisher=_optional_str(record, "publisher"),
        first_seen_at=_optional_time(record, "first_seen_at") or now,
        entry_id=url,
        title=title,
        published_at=_optional_time(record, "published_at"),
        language=_optional_str(record, "language"),
    )
    if html:
        return FetchedPage(entry=entry, final_url=link, body=html.encode("utf-8"), fetched_at=now)
    return PreExtracted(entry=entry, extracted=Extracted(title=title, text=text, language=entry.language))


class _ParseLineFn(beam.DoFn):
    def setup(self) -> None:
        self._entries = metrics.counter("entries")
        self._invalid = metrics.counter("backfill_invalid_lines")

    def process(self, line: str) -> Iterator[Any]:
        if not line.strip():
            return
        self._entries.inc()
        now = datetime.now(UTC)
        try:
            record = parse_line(line, now)
        except InvalidLine as err:
            self._invalid.inc()
            yield beam.pvalue.TaggedOutput(
                FAILURES, Failure(STAGE, None, None, "invalid_line", str(err), now)
            )
            return
        yield TimestampedValue(record, record.entry.first_seen_at.timestamp())


class ReadBackfill(beam.PTransform):
    """Lines of ``path`` (a file or glob) in; ``FetchedPage``/``PreExtracted`` out, tag ``failures``."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "Read lines" >> beam.io.ReadFromText(self._path)
            | "Parse lines" >> beam.ParDo(_ParseLineFn()).with_outputs(FAILURES, main="records")
        )
