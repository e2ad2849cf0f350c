"""Each stage inside a TestPipeline (FnApiRunner), against a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from tests.conftest import Reply, ScriptedServer
from transforms.backfill import ReadBackfill
from transforms.dedup_url import DropSeenUrls
from transforms.extract import ExtractArticles, ExtractSettings
from transforms.feeds import PollFeeds
from transforms.fetch import FetchPages, FetchSettings
from transforms.http import HttpSettings
from transforms.records import Article, Extracted, FeedEntry, FeedSpec, PreExtracted
from transforms.write import WriteParquetPartitions

NOW = datetime(2025, 6, 20, tzinfo=UTC)
TEXT = "The council approved the new budget after a long debate about schools and roads. " * 8
LOCAL = HttpSettings(allow_private_addresses=True, timeout_s=2, retries=0)


def pipeline() -> TestPipeline:
    return TestPipeline(runner="FnApiRunner")


def entry(url: str, **changes: object) -> FeedEntry:
    return FeedEntry(
        **{"link": url, "url": url, "feed_url": None, "publisher": "P", "first_seen_at": NOW, **changes}
    )  # type: ignore[arg-type]


def test_drop_seen_urls_keeps_the_first_per_key() -> None:
    records = [("a", 0), ("b", 1), ("a", 2), ("c", 3), ("b", 4)]
    with pipeline() as p:
        kept = (
            p
            | beam.Create(records)
            | beam.Map(lambda r: TimestampedValue(r, r[1]))
            | DropSeenUrls(lambda r: r[0], ttl_s=3600, reason="url")
        )
        assert_that(kept | beam.Map(lambda r: r[0]), equal_to(["a", "b", "c"]))


def test_extract_articles_splits_articles_and_failures() -> None:
    good = PreExtracted(entry("https://ex.org/a"), Extracted(title="A", text=TEXT))
    # a text given with the entry is an article however short; an empty one is a failure
    brief = PreExtracted(entry("https://ex.org/b"), Extracted(title="B", text="Too short."))
    empty = PreExtracted(entry("https://ex.org/c"), Extracted(title="C", text=" "))
    with pipeline() as p:
        out = p | beam.Create([good, brief, empty]) | ExtractArticles(ExtractSettings(min_words=20))
        assert_that(
            out.articles | beam.Map(lambda a: (a.url, a.title)),
            equal_to([("https://ex.org/a", "A"), ("https://ex.org/b", "B")]),
            label="articles",
        )
        assert_that(
            out.failures | beam.Map(lambda f: (f.stage, f.url, f.error_type)),
            equal_to([("extract", "https://ex.org/c", "no_text")]),
            label="failures",
        )


def test_poll_and_fetch_against_a_local_site(http_server: ScriptedServer) -> None:
    base = http_server.base_url
    items = "".join(
        f"<item><title>{name}</title><link>{base}/{name}.html</link><guid>{name}</guid></item>"
        for name in ("ok", "missing", "private/secret")
    )
    http_server.routes["/feed.xml"] = Reply(
        200,
        f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode(),
        {"Content-Type": "application/rss+xml"},
    )
    http_server.routes["/robots.txt"] = Reply(
        200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"}
    )
    http_server.routes["/ok.html"] = Reply(
        200,
        f"<html><body><article><p>{TEXT}</p></article></body></html>".encode(),
        {"Content-Type": "text/html; charset=utf-8"},
    )
    with pipeline() as p:
        polled = p | PollFeeds([FeedSpec(f"{base}/feed.xml", "Local")], LOCAL)
        fetched = polled.entries | FetchPages(FetchSettings(http=LOCAL, min_host_delay_s=0.0))
        assert_that(
            polled.entries | "titles" >> beam.Map(lambda e: e.title),
            equal_to(["ok", "missing", "private/secret"]),
            label="entries",
        )
        assert_that(
            fetched.pages | beam.Map(lambda page: page.final_url),
            equal_to([f"{base}/ok.html"]),
            label="pages",
        )
        assert_that(
            fetched.failures | beam.Map(lambda f: (f.stage, f.error_type)),
            equal_to([("fetch", "http_404"), ("fetch", "robots_disallowed")]),
            label="failures",
        )
    assert "/private/secret.html" not in [path for path, _ in http_server.requests]


def _article(article_id: str, day: int) -> Article:
    published = datetime(2025, 6, day, 12, tzinfo=UTC)
    return Article(
        article_id=article_id,
        url=f"https://ex.org/{article_id}",
        canonical_url=f"https://ex.org/{article_id}",
        feed_url=None,
        publisher="P",
        source_domain="ex.org",
        title=article_id,
        description=None,
        text=TEXT,
        authors=("A",),
        tags=(),
        language="en",
        published_at=published,
        date_source="feed",
        first_seen_at=NOW,
        word_count=120,
        content_hash="h",
    )


def _write(records: list[Article], output: Path) -> None:
    with pipeline() as p:
        _ = p | beam.Create(records) | WriteParquetPartitions(str(output), batch_size=10)


def test_write_partitions_by_date_and_rewrites_the_same_files(tmp_path: Path) -> None:
    records = [_article("a", 16), _article("b", 16), _article("c", 17)]
    _write(records, tmp_path)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert [f.rsplit("/", 1)[0] for f in files] == ["articles/date=2025-06-16", "articles/date=2025-06-17"]
    table = pq.ParquetFile(tmp_path / files[0]).read()
    assert sorted(table.column("article_id").to_pylist()) == ["a", "b"]
    assert "date" not in table.column_names  # only in the directory name
    assert table.schema.field("published_at").type.tz == "UTC"
    _write(records, tmp_path)  # a retry of the same batches: same names, no extra rows
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet")) == files
    assert not list(tmp_path.rglob(".tmp-*"))


def test_read_backfill(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    lines = [
        {"url": "https://ex.org/a", "text": TEXT},
        {"url": "https://ex.org/b", "html": "<p>x</p>"},
        "oops",
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n")
    with pipeline() as p:
        out = p | ReadBackfill(str(path))
        assert_that(
            out.records | beam.Map(lambda r: type(r).__name__),
            equal_to(["PreExtracted", "FetchedPage"]),
            label="records",
        )
        assert_that(
            out.failures | beam.Map(lambda f: f.error_type), equal_to(["invalid_line"]), label="failures"
        )
