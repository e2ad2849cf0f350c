"""Records for tests, with defaults for every field a test does not care about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from transforms.records import Article

NOW = datetime(2025, 6, 20, tzinfo=UTC)


def make_article(text: str, url: str = "https://ex.org/a", **changes: Any) -> Article:
    """An ``Article`` with ``text`` at ``url``; ``changes`` set any other field."""
    fields: dict[str, Any] = {
        "article_id": url,
        "url": url,
        "canonical_url": url,
        "feed_url": None,
        "publisher": "P",
        "source_domain": "ex.org",
        "title": "T",
        "description": None,
        "text": text,
        "authors": (),
        "tags": (),
        "language": "en",
        "published_at": None,
        "date_source": "none",
        "first_seen_at": NOW,
        "word_count": len(text.split()),
        "content_hash": "h",
    }
    fields.update(changes)
    return Article(**fields)
