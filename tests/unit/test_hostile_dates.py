"""Missing, unparseable, future, pre-web and oddly zoned dates: a sensible published_at
(or none) and a date_source that says where it came from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from transforms.extract import ExtractSettings, build_article, parse_datetime
from transforms.feeds import feed_datetime, parse_feed
from transforms.records import Extracted, FeedEntry, FeedSpec

NOW = datetime(2025, 6, 20, 12, tzinfo=UTC)
SPEC = FeedSpec("https://ex.org/feed.xml", "Ex")
TEXT = "The committee said on Tuesday that the vote would go ahead as planned next week. " * 10


def _rss_date(pub_date: str) -> datetime | None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title>'
        f"<link>https://ex.org/a.html</link><pubDate>{pub_date}</pubDate></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body, SPEC, NOW)
    assert parsed.failures == []
    (entry,) = parsed.entries
    return entry.published_at


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Tue, 17 Jun 2025 08:30:00 GMT", datetime(2025, 6, 17, 8, 30, tzinfo=UTC)),
        ("Tue, 17 Jun 2025 08:30:00 +1400", datetime(2025, 6, 16, 18, 30, tzinfo=UTC)),  # Kiribati
        ("Tue, 17 Jun 2025 08:30:00 -1200", datetime(2025, 6, 17, 20, 30, tzinfo=UTC)),
        ("Tue, 17 Jun 2025 08:30:00 +0545", datetime(2025, 6, 17, 2, 45, tzinfo=UTC)),  # Nepal
        ("Tue, 17 Jun 2025 08:30:00 EDT", datetime(2025, 6, 17, 12, 30, tzinfo=UTC)),
        # "GMT+5" means five hours ahead of GMT here (feedparser dropped the date), not the
        # inverted POSIX sense of Etc/GMT+5; "UTC+5" feedparser read as plain UTC
        ("Tue, 17 Jun 2025 08:30:00 GMT+5", datetime(2025, 6, 17, 3, 30, tzinfo=UTC)),
        ("Tue, 17 Jun 2025 08:30:00 UTC+5", datetime(2025, 6, 17, 3, 30, tzinfo=UTC)),
        ("Tue, 17 Jun 2025 08:30:00 GMT-03:30", datetime(2025, 6, 17, 12, 0, tzinfo=UTC)),
        ("2025-06-17T08:30:00+14:00", datetime(2025, 6, 16, 18, 30, tzinfo=UTC)),
        # no such offsets: better no date than one off by days
        ("Tue, 17 Jun 2025 08:30:00 +9999", None),
        ("Tue, 17 Jun 2025 08:30:00 GMT+15", None),
        ("Tue, 17 Jun 2025 08:30:00 +0575", None),
        ("", None),
        ("not a date", None),
        ("17/06/2025", None),
        ("Tue, 17 Jun 2025 25:30:00 GMT", None),
        ("0000-00-00T00:00:00Z", None),
        ("Sat, 01 Jan 10000 00:00:00 GMT", None),
    ],
)
def test_feed_dates(pub_date: str, expected: datetime | None) -> None:
    assert _rss_date(pub_date) == expected


def test_feed_date_keeps_feedparser_result_when_it_is_fine() -> None:
    assert feed_datetime(None, None) is None
    assert feed_datetime("whatever", datetime(2025, 1, 2, 3, 4, 5).timetuple()) == datetime(
        2025, 1, 2, 3, 4, 5, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-17T08:30:00+14:00", datetime(2025, 6, 16, 18, 30, tzinfo=UTC)),
        ("2025-06-17T08:30:00-1200", datetime(2025, 6, 17, 20, 30, tzinfo=UTC)),
        ("2025-06-17T08:30:00 GMT+5", None),  # page metadata must be ISO 8601
        ("yesterday", None),
    ],
)
def test_page_metadata_dates(text: str, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def _article(
    feed: datetime | None, page: datetime | None, url: str = "https://ex.org/news/a.html"
) -> tuple[datetime | None, str, list[str]]:
    entry = FeedEntry(url, url, SPEC.url, "Ex", NOW, published_at=feed)
    article, rejected = build_article(
        entry, Extracted(title="T", text=TEXT, published_at=page), url, NOW, ExtractSettings()
    )
    return article.published_at, article.date_source, rejected


FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
PRE_WEB = datetime(1990, 1, 1, tzinfo=UTC)
GOOD = datetime(2025, 6, 17, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("feed", "page", "url", "expected"),
    [
        (None, None, "https://ex.org/news/a.html", (None, "none", [])),
        (FUTURE, None, "https://ex.org/news/a.html", (None, "none", ["feed"])),
        (PRE_WEB, None, "https://ex.org/news/a.html", (None, "none", ["feed"])),
        (datetime(1994, 12, 31, 23, 59, tzinfo=UTC), None, "https://ex.org/a.html", (None, "none", ["feed"])),
        (FUTURE, GOOD, "https://ex.org/news/a.html", (GOOD, "page", ["feed"])),
        (
            PRE_WEB,
            FUTURE,
            "https://ex.org/2025/06/17/a.html",
            (datetime(2025, 6, 17, tzinfo=UTC), "url", ["feed", "page"]),
        ),
        (None, None, "https://ex.org/2099/01/01/a.html", (None, "none", ["url"])),
        # a few hours ahead is a time zone or a skewed clock, not the future
        (
            datetime(2025, 6, 21, 2, tzinfo=UTC),
            None,
            "https://ex.org/a.html",
            (datetime(2025, 6, 21, 2, tzinfo=UTC), "feed", []),
        ),
    ],
)
def test_implausible_dates_fall_through_to_the_next_evidence(
    feed: datetime | None, page: datetime | None, url: str, expected: tuple[datetime | None, str, list[str]]
) -> None:
    assert _article(feed, page, url) == expected


def test_future_feed_date_end_to_end() -> None:
    """A feed that says 2099: the entry is kept, the date is not believed at extraction."""
    published = _rss_date("Thu, 01 Jan 2099 00:00:00 GMT")
    assert published == FUTURE
    assert _article(published, None)[:2] == (None, "none")
