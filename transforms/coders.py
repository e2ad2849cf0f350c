"""Deterministic coders for the records that travel between keyed steps and sit in their state.

``ArticleCoder`` writes an ``Article`` field by field with Beam's compiled component coders
(strings as UTF-8, optional fields behind a null flag, datetimes as integer microseconds since
the epoch, UTC), so equal articles always encode to equal bytes and decoding gives back an equal
``Article``.  It is not registered for ``Article`` globally: the keyed stages name it where they
need it (``transforms.keyed``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apache_beam.coders import (
    FloatCoder,
    NullableCoder,
    StrUtf8Coder,
    TupleCoder,
    TupleSequenceCoder,
    VarIntCoder,
)
from apache_beam.coders.coders import Coder

from transforms.records import Article, Entity

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the epoch (exact)."""
    return (moment - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


_S = StrUtf8Coder()
_OPT_S = NullableCoder(_S)
_STRINGS = TupleSequenceCoder(_S)
_OPT_MICROS = NullableCoder(VarIntCoder())
_OPT_F = NullableCoder(FloatCoder())
_ENTITIES = NullableCoder(TupleSequenceCoder(TupleCoder([_S, _S, _S, VarIntCoder()])))
_ARTICLE = TupleCoder(
    [
        _S,  # article_id
        _S,  # url
        _S,  # canonical_url
        _OPT_S,  # feed_url
        _OPT_S,  # publisher
        _S,  # source_domain
        _OPT_S,  # title
        _OPT_S,  # description
        _S,  # text
        _STRINGS,  # authors
        _STRINGS,  # tags
        _OPT_S,  # language
        _OPT_MICROS,  # published_at
        _S,  # date_source
        VarIntCoder(),  # first_seen_at
        VarIntCoder(),  # word_count
        _S,  # content_hash
        _OPT_S,  # duplicate_of
        _OPT_F,  # duplicate_score
        _OPT_S,  # story_id
        _OPT_F,  # story_score
        _ENTITIES,  # entities
    ]
)


def _article_row(a: Article) -> tuple[Any, ...]:
    return (
        a.article_id,
        a.url,
        a.canonical_url,
        a.feed_url,
        a.publisher,
        a.source_domain,
        a.title,
        a.description,
        a.text,
        tuple(a.authors),
        tuple(a.tags),
        a.language,
        None if a.published_at is None else to_micros(a.published_at),
        a.date_source,
        to_micros(a.first_seen_at),
        a.word_count,
        a.content_hash,
        a.duplicate_of,
        a.duplicate_score,
        a.story_id,
        a.story_score,
        None if a.entities is None else tuple((e.text, e.key, e.label, e.count) for e in a.entities),
    )


def _row_article(r: tuple[Any, ...]) -> Article:
    return Article(
        article_id=r[0],
        url=r[1],
        canonical_url=r[2],
        feed_url=r[3],
        publisher=r[4],
        source_domain=r[5],
        title=r[6],
        description=r[7],
        text=r[8],
        authors=tuple(r[9]),
        tags=tuple(r[10]),
        language=r[11],
        published_at=None if r[12] is None else from_micros(r[12]),
        date_source=r[13],
        first_seen_at=from_micros(r[14]),
        word_count=r[15],
        content_hash=r[16],
        duplicate_of=r[17],
        duplicate_score=r[18],
        story_id=r[19],
        story_score=r[20],
        entities=None if r[21] is None else tuple(Entity(*e) for e in r[21]),
    )


class RecordCoder(Coder):
    """A deterministic coder of one record type (``hint``); equal when of the same class."""

    hint: type = object

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self) -> type:
        return self.hint

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class ArticleCoder(RecordCoder):
    """``Article`` <-> bytes, deterministic (see the module docstring)."""

    hint = Article

    def encode(self, value: Article) -> bytes:
        return bytes(_ARTICLE.encode(_article_row(value)))

    def decode(self, encoded: bytes) -> Article:
        return _row_article(_ARTICLE.decode(encoded))
