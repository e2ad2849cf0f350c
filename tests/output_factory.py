"""Small newsbeam outputs built directly as Parquet (no pipeline run), for the shortcut, report and
compaction tests.  ``NEWSROOM`` is a tiny corpus with known stories, entities and failures."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from transforms.schema import to_table

T0 = datetime(2025, 6, 16, 8, 0, tzinfo=UTC)


def article(
    article_id: str,
    *,
    publisher: str | None = "Harbor Times",
    title: str | None = "A title",
    published_at: datetime | None = T0,
    first_seen_at: datetime = T0,
    story_id: str | None = None,
    duplicate_of: str | None = None,
    entities: list[tuple[str, str, str, int]] | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """One ``articles`` row; ``entities`` as ``(text, key, label, count)``."""
    url = url or f"https://{(publisher or 'example').lower().replace(' ', '')}.example/{article_id}"
    return {
        "article_id": article_id,
        "url": url,
        "canonical_url": url,
        "feed_url": None,
        "publisher": publisher,
        "source_domain": url.split("/")[2] if "//" in url else "hostile.example",
        "title": title,
        "description": None,
        "text": f"text of {article_id}",
        "authors": [],
        "tags": [],
        "language": "en",
        "published_at": published_at,
        "date_source": "feed" if published_at else "none",
        "first_seen_at": first_seen_at,
        "word_count": 3,
        "content_hash": hashlib.sha1(article_id.encode()).hexdigest(),
        "duplicate_of": duplicate_of,
        "duplicate_score": None if duplicate_of is None else 0.8,
        "story_id": story_id,
        "story_score": None if story_id is None else 0.9,
        "entities": None
        if entities is None
        else [{"text": t, "key": k, "label": label, "count": c} for t, k, label, c in entities],
    }


def failure(
    stage: str, error_type: str, url: str, at: datetime = T0, message: str = "boom"
) -> dict[str, Any]:
    return {
        "stage": stage,
        "url": url,
        "feed_url": None,
        "error_type": error_type,
        "message": message,
        "attempt": 1,
        "at": at,
    }


def write_output(
    output: Path,
    articles: list[dict[str, Any]] = (),  # type: ignore[assignment]
    failures: list[dict[str, Any]] = (),  # type: ignore[assignment]
    files_per_partition: int = 1,
) -> Path:
    """Write rows as ``OUTPUT/<table>/date=D/part-<table>-<n>.parquet``, split into several files."""
    for table, rows in (("articles", articles), ("failures", failures)):
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            when = row["at"] if table == "failures" else (row["published_at"] or row["first_seen_at"])
            by_day[when.date().isoformat()].append(row)
        for day, day_rows in by_day.items():
            directory = output / table / f"date={day}"
            directory.mkdir(parents=True, exist_ok=True)
            for index in range(files_per_partition):
                chunk = day_rows[index::files_per_partition]
                if chunk:
                    pq.write_table(to_table(table, chunk), directory / f"part-{table}-{index:03d}.parquet")
    return output


KURSK = "North Korea to send thousands of workers to Russia's Kursk"
G7 = "G7 summit ends without joint statement after early exit"
QUAKE = "6.1-magnitude quake strikes Aceh"
HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\"> & 'quotes'"


def newsroom() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Articles and failures over two days: a 3-outlet story, a 2-outlet story, singletons."""
    day2 = T0 + timedelta(days=1)
    kim = ("Kim Jong Un", "kim jong un", "PERSON", 2)
    shoigu = ("Sergei Shoigu", "sergei shoigu", "PERSON", 3)
    russia = ("Russia", "russia", "GPE", 4)
    articles = [
        article(
            "k1",
            publisher="Harbor Times",
            title=KURSK,
            story_id="s-kursk",
            first_seen_at=T0 + timedelta(minutes=5),
            entities=[kim, shoigu, russia],
        ),
        article(
            "k2",
            publisher="Metro Wire",
            title="Pyongyang sends deminers and builders to Kursk",
            story_id="s-kursk",
            first_seen_at=T0 + timedelta(minutes=30),
            entities=[kim, russia],
        ),
        article(
            "k3",
            publisher="Valley Observer",
            title="Shoigu: Kim agrees to send 6,000 to Kursk",
            story_id="s-kursk",
            first_seen_at=T0 + timedelta(hours=2),
            entities=[shoigu],
        ),
        article(
            "k4",
            publisher="Metro Wire",
            title="Kursk: more on the North Korean workers",
            story_id="s-kursk",
            published_at=day2,
            first_seen_at=day2,
            entities=[kim],
        ),
        article(
            "g1",
            publisher="Capital Bulletin",
            title=G7,
            story_id="s-g7",
            first_seen_at=T0 + timedelta(hours=1),
            entities=[("G7", "g7", "ORG", 5)],
        ),
        article(
            "g2",
            publisher="Harbor Times",
            title="G7 leaders fail to agree on key issues",
            story_id="s-g7",
            first_seen_at=T0 + timedelta(hours=3),
            entities=[("G7", "g7", "ORG", 2)],
        ),
        article(
            "q1",
            publisher="Valley Observer",
            title=QUAKE,
            published_at=day2,
            first_seen_at=day2,
            entities=[("Aceh", "aceh", "GPE", 2)],
        ),
        article(
            "h1",
            publisher="Metro Wire",
            title=HOSTILE,
            published_at=day2,
            first_seen_at=day2,
            url="javascript:alert(1)",
            entities=[],
        ),
        article(
            "n1",
            publisher=None,
            title=None,
            published_at=None,
            first_seen_at=day2,
            entities=None,
            url="https://nopublisher.example/n1",
        ),
    ]
    failures = [
        failure("fetch", "http_404", "https://x.example/1"),
        failure("fetch", "http_404", "https://x.example/2", at=T0 + timedelta(hours=1), message="HTTP 404"),
        failure("extract", "not_an_article", "https://x.example/3", at=day2),
        failure("feed", "malformed_feed", "https://x.example/feed", at=day2, message="<b>bad</b> feed"),
    ]
    return articles, failures
