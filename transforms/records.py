"""Typed records that flow between the stages.

One frozen dataclass per stage boundary.  Datetimes are always timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FeedSpec:
    """One feed to poll, from the job config."""

    url: str
    publisher: str
    language: str | None = None
    poll_interval_s: float = 300.0


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed (or one line of a backfill file), before fetching.

    ``link`` is the URL as written in the feed; ``url`` is its normalised form, the
    key for URL de-duplication.
    """

    link: str
    url: str
    feed_url: str | None
    publisher: str | None
    first_seen_at: datetime
    entry_id: str | None = None
    title: str | None = None
    description: str | None = None
    published_at: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class FetchedPage:
    """An HTTP response (or backfilled HTML) for one entry."""

    entry: FeedEntry
    final_url: str
    body: bytes
    content_type: str | None = None
    status: int = 200
    fetched_at: datetime | None = None


@dataclass(frozen=True)
class Extracted:
    """What an extractor (or a backfill line) says about a page, before validation."""

    title: str | None = None
    text: str | None = None
    description: str | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None
    canonical_url: str | None = None
    published_at: datetime | None = None  # from the page's metadata
    guessed_at: datetime | None = None  # a date found in the page's text (weaker evidence)
    page_type: str | None = None
    # named signals for the article decision (``transforms.pagetype``); empty when no page was read
    evidence: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class PreExtracted:
    """A backfill line that already carries title/text: skips HTML extraction."""

    entry: FeedEntry
    extracted: Extracted


@dataclass(frozen=True)
class Entity:
    """One distinct named entity of an article: surface form, label, mentions.

    ``key`` is the form to group on across articles (case and spaces folded, a leading
    "the" and a trailing possessive dropped).
    """

    text: str
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Article:
    """One row of the ``articles`` table (see ``transforms.schema``)."""

    article_id: str
    url: str
    canonical_url: str
    feed_url: str | None
    publisher: str | None
    source_domain: str
    title: str | None
    description: str | None
    text: str
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    language: str | None
    published_at: datetime | None
    date_source: str
    first_seen_at: datetime
    word_count: int
    content_hash: str
    duplicate_of: str | None = None
    duplicate_score: float | None = None
    story_id: str | None = None
    story_score: float | None = None
    entities: tuple[Entity, ...] | None = None


@dataclass(frozen=True)
class Failure:
    """One row of the ``failures`` table: an entry or feed that could not be processed."""

    stage: str
    url: str | None
    feed_url: str | None
    error_type: str
    message: str
    at: datetime
    attempt: int = 1


def language_code(value: str | None) -> str | None:
    """An ISO 639-1 code from a language tag (``en-GB``, ``de_DE``, ``fr``), else None."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return code if len(code) == 2 and code.isalpha() else None
