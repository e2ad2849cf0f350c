"""The keyed probe/decide idiom's pure parts (``transforms.keyed``) and its coders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from apache_beam.coders import registry

from tests.factories import make_article
from transforms.coders import ArticleCoder, from_micros, to_micros
from transforms.keyed import (
    Edge,
    Stored,
    ToDecide,
    ToDecideCoder,
    decide_key,
    decide_key_ts,
    probe,
    prune,
    shard,
)
from transforms.records import Entity


class EveryPair:
    """A comparison that links every pair it is given, scoring it by the later entry's payload."""

    reach_us = 100
    lateness_us = 10

    def setup(self) -> None:
        pass

    def compare(self, key: str, earlier: Stored, later: Stored) -> Edge | None:
        return Edge(1, earlier.article_id, earlier.ts, float(len(later.payload)))


def entry(article_id: str, ts: int, tag: bytes = b"t") -> Stored:
    return Stored(article_id, ts, tag, article_id.encode())


def test_decide_key_round_trips_the_timestamp_to_the_microsecond() -> None:
    ts = 1_750_000_000_123_457
    assert decide_key_ts(decide_key("abc@def", ts)) == ts


def test_shard_is_stable_and_bounded() -> None:
    assert shard(b"\x00" * 7 + b"\x05", 4) == 5
    assert all(0 <= shard(bytes([i]) * 8, 3) < 8 for i in range(256))
    assert shard(b"anything", 0) == 0


def test_probe_gives_the_edge_to_the_later_article_in_both_directions() -> None:
    comparison = EveryPair()
    stored = [entry("early", 10), entry("late", 50)]
    edges = list(probe("k", entry("middle", 30), stored, comparison))
    assert [(later.article_id, edge.other_id) for later, edge in edges] == [
        ("middle", "early"),  # the arrival is the later one
        ("late", "middle"),  # the stored entry is the later one: it gets the edge
    ]


def test_probe_compares_only_same_tag_other_articles_within_reach() -> None:
    comparison = EveryPair()
    stored = [
        entry("other-tag", 30, b"u"),
        entry("same", 30),  # the same article seen again (another of its keys): not a pair
        entry("too-old", 30 - 100),  # exactly the reach apart: out
        entry("in-reach", 30 - 99),
    ]
    edges = list(probe("k", entry("same", 30), stored, comparison))
    assert [edge.other_id for _, edge in edges] == ["in-reach"]


def test_ties_in_time_are_ordered_by_article_id() -> None:
    edges = list(probe("k", entry("a", 5), [entry("b", 5)], EveryPair()))
    assert [(later.article_id, edge.other_id) for later, edge in edges] == [("b", "a")]


def test_prune_keeps_what_an_on_time_arrival_may_still_match() -> None:
    comparison = EveryPair()  # reach 100, lateness 10: horizon = newest - 110
    stored = [entry("a", 0), entry("b", 90), entry("c", 91), entry("d", 200)]
    pruned = prune(stored, entry("x", 199), comparison)
    assert [e.article_id for e in pruned.live] == ["c", "d"]
    assert pruned.expired == 2
    assert not pruned.late
    assert prune(stored, entry("y", 189), comparison).late  # 11 behind the newest (200)


def test_article_coder_round_trips_every_field_and_is_deterministic() -> None:
    article = make_article(
        "Some text here.",
        authors=("A. Writer",),
        tags=("x", "y"),
        published_at=datetime(2025, 6, 18, 10, 1, 2, 345678, tzinfo=UTC),
        duplicate_of="orig",
        duplicate_score=0.75,
        story_id="root",
        story_score=None,
        entities=(Entity("Kim Jong Un", "kim jong un", "PERSON", 3),),
        description=None,
    )
    coder = ArticleCoder()
    encoded = coder.encode(article)
    assert coder.decode(encoded) == article
    assert coder.encode(coder.decode(encoded)) == encoded
    assert coder.decode(coder.encode(replace(article, entities=None))).entities is None
    assert coder.is_deterministic()


def test_micros_are_exact() -> None:
    moment = datetime(2026, 12, 3, 7, 38, 51, 999999, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment


def test_messages_have_registered_deterministic_coders() -> None:
    article = make_article("Text.")
    coder = registry.get_coder(ToDecide)
    assert isinstance(coder, ToDecideCoder) and coder.is_deterministic()
    for message in (ToDecide(article=article), ToDecide(edge=Edge(2, "other", 7, 0.5, b"\x00\x01"))):
        assert coder.decode(coder.encode(message)) == message
    stored = entry("a", 3)
    assert registry.get_coder(Stored).decode(registry.get_coder(Stored).encode(stored)) == stored


@pytest.mark.parametrize("bits", [8, 16])
def test_shards_spread_fine_keys(bits: int) -> None:
    import hashlib

    keys = {shard(hashlib.blake2b(str(i).encode(), digest_size=8).digest(), bits) for i in range(2000)}
    assert len(keys) > min(2000, 1 << bits) * 0.5
