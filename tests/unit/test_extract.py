from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from transforms.extract import (
    ArticleRejected,
    ExtractSettings,
    build_article,
    content_hash,
    date_from_url,
    extract_html,
    is_plausible,
    parse_datetime,
    resolve_published,
)
from transforms.records import Extracted, FeedEntry

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
PARAGRAPH = (
    "Officials said the agreement would be signed next week in Geneva after months of "
    "negotiations between the two delegations, according to people familiar with the talks. "
)
PAGE = f"""<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Talks end in Geneva | The Ledger</title>
<link rel="canonical" href="https://ledger.example/world/2025/06/17/geneva-talks.html">
<meta property="og:type" content="article">
<meta property="article:published_time" content="2025-06-17T08:30:00+02:00">
<meta name="author" content="Jane Doe"><meta name="keywords" content="diplomacy, Geneva">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<div class="cookie">We use cookies to improve your experience. Accept all cookies?</div>
<article><h1>Talks end in Geneva</h1>
<p>{PARAGRAPH * 4}</p><p>{PARAGRAPH * 3}</p></article>
<aside><h3>Related</h3><ul><li><a href="/a">Other story one</a></li></ul></aside>
<footer>Copyright The Ledger. All rights reserved.</footer></body></html>"""


def entry(**changes: object) -> FeedEntry:
    base = FeedEntry(
        link="https://ledger.example/world/2025/06/17/geneva-talks.html?utm_source=rss",
        url="https://ledger.example/world/2025/06/17/geneva-talks.html",
        feed_url="https://ledger.example/feed.xml",
        publisher="The Ledger",
        first_seen_at=NOW,
        title="Feed title",
    )
    return base.__class__(**{**base.__dict__, **changes})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-17T08:30:00+0200", datetime(2025, 6, 17, 6, 30, tzinfo=UTC)),
        ("2025-06-17T08:30:00Z", datetime(2025, 6, 17, 8, 30, tzinfo=UTC)),
        ("2025-06-17", datetime(2025, 6, 17, tzinfo=UTC)),
        ("2025-06-17T08:30:00", datetime(2025, 6, 17, 8, 30, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_datetime(text: str | None, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def test_date_from_url() -> None:
    assert date_from_url("https://x.org/world/2025/06/15/a.html") == datetime(2025, 6, 15, tzinfo=UTC)
    assert date_from_url("https://x.org/news/2025-06-15/a.html") == datetime(2025, 6, 15, tzinfo=UTC)
    assert date_from_url("https://x.org/news/2025/13/45/a.html") is None
    assert date_from_url("https://x.org/news/a.html") is None


def test_plausibility_rejects_future_and_pre_web_dates() -> None:
    assert is_plausible(datetime(2025, 6, 17, tzinfo=UTC), NOW)
    assert not is_plausible(NOW + timedelta(days=3), NOW)
    assert not is_plausible(datetime(1994, 12, 31, tzinfo=UTC), NOW)
    assert is_plausible(datetime(1995, 1, 1, tzinfo=UTC), NOW)


def test_resolve_published_prefers_feed_then_page_then_url() -> None:
    feed = datetime(2025, 6, 17, 9, tzinfo=UTC)
    page = datetime(2025, 6, 17, 8, tzinfo=UTC)
    url = "https://x.org/2025/06/16/a.html"
    assert resolve_published(feed, page, url, NOW) == (feed, "feed", [])
    assert resolve_published(None, page, url, NOW) == (page, "page", [])
    assert resolve_published(None, None, url, NOW)[:2] == (datetime(2025, 6, 16, tzinfo=UTC), "url")
    assert resolve_published(None, None, "https://x.org/a.html", NOW) == (None, "none", [])


def test_resolve_published_skips_implausible_candidates() -> None:
    future = NOW + timedelta(days=30)
    ancient = datetime(1970, 1, 1, tzinfo=UTC)
    page = datetime(2025, 6, 17, 8, tzinfo=UTC)
    assert resolve_published(future, page, "https://x.org/a", NOW) == (page, "page", ["feed"])
    assert resolve_published(ancient, None, "https://x.org/a", NOW) == (None, "none", ["feed"])


def test_extract_html_keeps_main_text_and_metadata() -> None:
    extracted = extract_html(
        PAGE.encode("utf-8"), "https://ledger.example/world/2025/06/17/geneva-talks.html"
    )
    assert extracted.title == "Talks end in Geneva"
    assert extracted.text is not None
    assert "negotiations between the two delegations" in extracted.text
    assert "cookies" not in extracted.text
    assert "All rights reserved" not in extracted.text
    assert extracted.language == "en"
    assert extracted.authors == ("Jane Doe",)
    assert extracted.published_at == datetime(2025, 6, 17, 6, 30, tzinfo=UTC)
    assert extracted.canonical_url == "https://ledger.example/world/2025/06/17/geneva-talks.html"
    assert "Geneva" in extracted.tags


def test_extract_html_reads_declared_non_utf8_encoding() -> None:
    page = PAGE.replace('charset="utf-8"', 'charset="windows-1252"').replace("Geneva</h1>", "Genève</h1>")
    extracted = extract_html(page.encode("windows-1252"), "https://ledger.example/a.html")
    assert extracted.title == "Talks end in Genève"


def test_build_article_merges_feed_and_page() -> None:
    extracted = extract_html(PAGE.encode("utf-8"), entry().link)
    article, rejected = build_article(entry(), extracted, entry().link, NOW, ExtractSettings())
    assert rejected == []
    assert article.canonical_url == "https://ledger.example/world/2025/06/17/geneva-talks.html"
    assert article.url == entry().url
    assert article.source_domain == "ledger.example"
    assert article.date_source == "page"
    assert article.word_count > 50
    assert article.content_hash == content_hash(article.text)
    assert article.duplicate_of is None and article.story_id is None and article.entities is None


def test_build_article_uses_feed_fields_for_gaps() -> None:
    published = datetime(2025, 6, 17, 9, tzinfo=UTC)
    extracted = Extracted(text=PARAGRAPH * 5)
    article, _ = build_article(
        entry(published_at=published, language="en"), extracted, entry().link, NOW, ExtractSettings()
    )
    assert article.title == "Feed title"
    assert article.published_at == published and article.date_source == "feed"
    assert article.language == "en"


@pytest.mark.parametrize(
    ("extracted", "error_type"),
    [
        (Extracted(text=PARAGRAPH * 5, page_type="website"), "not_an_article"),
        (Extracted(text=PARAGRAPH * 5, page_type="video.other"), "not_an_article"),
        (Extracted(text=""), "no_text"),
        (Extracted(text=None), "no_text"),
        (Extracted(text="Just a caption."), "too_short"),
    ],
)
def test_build_article_rejects_non_articles(extracted: Extracted, error_type: str) -> None:
    with pytest.raises(ArticleRejected) as raised:
        build_article(entry(), extracted, entry().link, NOW, ExtractSettings())
    assert raised.value.error_type == error_type


def test_content_hash_ignores_case_and_whitespace() -> None:
    assert content_hash("A  b\nC") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b d")
