"""The output schema: the single source of truth for the Parquet tables.

``date`` is not a column of the files: it lives only in the ``date=YYYY-MM-DD`` directory
name (Hive partitioning), and readers such as DuckDB add it back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from transforms.records import Article, Failure

TIMESTAMP = pa.timestamp("us", tz="UTC")

ENTITY = pa.struct(
    [
        pa.field("text", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("count", pa.int32(), nullable=False),
    ]
)

ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string(), nullable=False),
        pa.field("feed_url", pa.string()),
        pa.field("publisher", pa.string()),
        pa.field("source_domain", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("description", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("authors", pa.list_(pa.string()), nullable=False),
        pa.field("tags", pa.list_(pa.string()), nullable=False),
        pa.field("language", pa.string()),
        pa.field("published_at", TIMESTAMP),
        pa.field("date_source", pa.string(), nullable=False),
        pa.field("first_seen_at", TIMESTAMP, nullable=False),
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("content_hash", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("duplicate_score", pa.float32()),
        pa.field("story_id", pa.string()),
        pa.field("story_score", pa.float32()),
        pa.field("entities", pa.list_(ENTITY)),
    ]
)

FAILURES = pa.schema(
    [
        pa.field("stage", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("feed_url", pa.string()),
        pa.field("error_type", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("attempt", pa.int32(), nullable=False),
        pa.field("at", TIMESTAMP, nullable=False),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {"articles": ARTICLES, "failures": FAILURES}


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def article_row(article: Article) -> dict[str, Any]:
    """An ``Article`` as a dict matching ``ARTICLES``."""
    return {
        "article_id": article.article_id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "feed_url": article.feed_url,
        "publisher": article.publisher,
        "source_domain": article.source_domain,
        "title": article.title,
        "description": article.description,
        "text": article.text,
        "authors": list(article.authors),
        "tags": list(article.tags),
        "language": article.language,
        "published_at": _utc(article.published_at),
        "date_source": article.date_source,
        "first_seen_at": _utc(article.first_seen_at),
        "word_count": article.word_count,
        "content_hash": article.content_hash,
        "duplicate_of": article.duplicate_of,
        "duplicate_score": article.duplicate_score,
        "story_id": article.story_id,
        "story_score": article.story_score,
        "entities": None
        if article.entities is None
        else [{"text": e.text, "key": e.key, "label": e.label, "count": e.count} for e in article.entities],
    }


def failure_row(failure: Failure) -> dict[str, Any]:
    """A ``Failure`` as a dict matching ``FAILURES``."""
    return {
        "stage": failure.stage,
        "url": failure.url,
        "feed_url": failure.feed_url,
        "error_type": failure.error_type,
        "message": failure.message,
        "attempt": failure.attempt,
        "at": _utc(failure.at),
    }


def partition_date(record: Article | Failure) -> date:
    """The UTC date a record is filed under: ``published_at`` else ``first_seen_at``."""
    if isinstance(record, Failure):
        return record.at.astimezone(UTC).date()
    when = record.published_at or record.first_seen_at
    return when.astimezone(UTC).date()


def to_table(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts from ``article_row``/``failure_row``) as a table of the named schema."""
    return pa.Table.from_pylist(rows, schema=SCHEMAS[table])
