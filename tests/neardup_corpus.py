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
