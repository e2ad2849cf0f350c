"""Texts and articles for the near-duplicate tests, built in code (deterministic, no ../shared)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from transforms.extract import content_hash
from transforms.records import Article

T0 = datetime(2025, 6, 16, tzinfo=UTC)

_SUBJECTS = ("The minister", "Officials", "The council", "Rescue teams", "The company", "Witnesses", "Police")
_VERBS = ("said", "confirmed", "denied", "announced", "reported", "warned", "explained")
_WORDS = [
    "budget",
    "bridge",
    "flood",
    "harbour",
    "election",
    "contract",
    "storm",
    "vaccine",
    "tariff",
    "strike",
    "court",
    "ruling",
    "school",
    "hospital",
    "railway",
    "airport",
    "river",
    "border",
    "market",
    "pension",
    "wildfire",
    "drought",
    "festival",
    "museum",
    "reactor",
    "satellite",
    "pipeline",
    "treaty",
    "ceasefire",
    "merger",
    "recall",
    "verdict",
    "protest",
    "summit",
    "census",
    "inquiry",
    "audit",
]


def story(seed: int, paragraphs: int = 8) -> list[str]:
    """Paragraphs of a made-up news story; different seeds share almost no 5-word shingles."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(2, 3)):
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 14)))
            sentences.append(
                f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} that {words} {rng.randint(2, 990)}."
            )
        out.append(" ".join(sentences))
    return out


def article(article_id: str, paragraphs: list[str], seen_s: float) -> Article:
    """An Article first seen ``seen_s`` seconds after ``T0``."""
    text = "\n\n".join(paragraphs)
    return Article(
        article_id=article_id,
        url=f"https://news.example/{article_id}",
        canonical_url=f"https://news.example/{article_id}",
        feed_url=None,
        publisher=None,
        source_domain="news.example",
        title=article_id,
        description=None,
        text=text,
        authors=(),
        tags=(),
        language="en",
        published_at=None,
        date_source="none",
        first_seen_at=T0 + timedelta(seconds=seen_s),
        word_count=len(text.split()),
        content_hash=content_hash(text),
    )


def seen_at(a: Article) -> float:
    """Element timestamp of an article: ``first_seen_at`` in epoch seconds."""
    return a.first_seen_at.timestamp()


def misjudged_pairs(limit: int = 400) -> dict[bool, tuple[list[str], list[str]]]:
    """Two ``(original, copy)`` pairs the MinHash estimates alone decide wrongly, found by search.

    The copy keeps the original's first paragraphs and takes the rest from another story, so
    its exact Jaccard is near the 0.5 threshold.  ``True``: a near-duplicate by the exact rule
    that the estimates reject; ``False``: not one, but the estimates accept it.  Deterministic
    (seeded texts, stable hashes); searched rather than hard-coded so that it keeps holding if
    the texts or hashes change.
    """
    from dataclasses import replace

    from transforms.neardup import (
        ACCEPT,
        NearDupSettings,
        Signer,
        confirm,
        fingerprint_similarity,
        pair_verdict,
    )

    settings = NearDupSettings()
    estimates_only = replace(settings, verify_margin=0.0)
    signer = Signer(settings)
    found: dict[bool, tuple[list[str], list[str]]] = {}
    for seed in range(1000, 1000 + limit):  # clear of the seeds other tests use
        base, other = story(seed, paragraphs=12), story(seed + 10_000, paragraphs=12)
        for keep in range(5, 10):
            copy = base[:keep] + other[: 12 - keep]
            a = signer.sign("a", 0, "\n\n".join(base), None)
            b = signer.sign("b", 1, "\n\n".join(copy), None)
            assert a.payload is not None and b.payload is not None
            exact = confirm(*fingerprint_similarity(a.fingerprint, b.fingerprint), settings) is not None
            estimated = pair_verdict(a.payload, b.payload, estimates_only)[0] == ACCEPT
            if exact != estimated:
                found.setdefault(exact, (base, copy))
        if len(found) == 2:
            return found
    raise AssertionError(f"no misjudged pairs in {limit} seeds")
