from __future__ import annotations

from datetime import UTC, datetime

from transforms.feeds import parse_feed, prune_seen
from transforms.records import FeedSpec

SEEN_AT = datetime(2025, 6, 20, 12, tzinfo=UTC)
SPEC = FeedSpec("https://ex.org/feed.xml", "Example", language="en")

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Ex</title><link>https://ex.org/</link><language>en-us</language>
<item><title>One</title><link>https://ex.org/one.html?utm_source=rss</link><guid>one</guid>
<pubDate>Tue, 17 Jun 2025 08:30:00 +0200</pubDate><author>jane@ex.org (Jane Doe)</author>
<category>World</category><description>First</description></item>
<item><title>Two</title><link>https://ex.org/two.html</link></item>
<item><title>No link</title></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="iso-8859-1"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Ex</title><id>urn:ex</id><updated>2025-06-17T10:00:00Z</updated>
<entry><title>Café à Genève</title><id>urn:1</id><link href="https://ex.org/cafe.html"/>
<updated>2025-06-17T10:00:00Z</updated><author><name>Zoë</name></author></entry>
</feed>""".encode("iso-8859-1")


def test_rss_entries_carry_feed_metadata() -> None:
    parsed = parse_feed(RSS, SPEC, SEEN_AT)
    assert [e.title for e in parsed.entries] == ["One", "Two"]
    one = parsed.entries[0]
    assert one.url == "https://ex.org/one.html"
    assert one.link.endswith("utm_source=rss")
    assert one.entry_id == "one"
    assert one.published_at == datetime(2025, 6, 17, 6, 30, tzinfo=UTC)
    assert one.publisher == "Example"
    assert one.feed_url == SPEC.url
    assert one.language == "en"
    assert one.tags == ("World",)
    assert one.first_seen_at == SEEN_AT
    assert parsed.entries[1].published_at is None


def test_entry_without_link_is_a_failure_not_a_silent_drop() -> None:
    parsed = parse_feed(RSS, SPEC, SEEN_AT)
    assert [(f.stage, f.error_type) for f in parsed.failures] == [("feed", "invalid_link")]


def test_atom_in_latin1() -> None:
    parsed = parse_feed(ATOM, SPEC, SEEN_AT)
    assert [e.title for e in parsed.entries] == ["Café à Genève"]
    assert parsed.entries[0].authors == ("Zoë",)
    assert parsed.entries[0].published_at == datetime(2025, 6, 17, 10, tzinfo=UTC)


def test_malformed_feed_is_a_failure() -> None:
    parsed = parse_feed(b"<?xml version='1.0'?><rss><channel><title>broken</ti", SPEC, SEEN_AT)
    assert parsed.entries == []
    assert [(f.stage, f.error_type, f.url) for f in parsed.failures] == [("feed", "malformed_feed", SPEC.url)]


def test_truncated_feed_keeps_what_was_recovered_and_reports_the_damage() -> None:
    body = RSS[: RSS.index(b"<item><title>Two")] + b"<item><title>Two</title><link>https://ex.org/tw"
    parsed = parse_feed(body, SPEC, SEEN_AT)
    assert [e.title for e in parsed.entries] == ["One"]
    assert ("feed", "malformed_feed") in [(f.stage, f.error_type) for f in parsed.failures]


def test_html_page_is_not_a_feed() -> None:
    parsed = parse_feed(b"<html><body><p>hello</p></body></html>", SPEC, SEEN_AT, "text/html")
    assert parsed.entries == []
    assert len(parsed.failures) == 1
    assert parsed.failures[0].error_type in {"malformed_feed", "not_a_feed"}


def test_prune_seen_drops_expired_and_keeps_newest() -> None:
    seen = {"a": 0.0, "b": 50.0, "c": 90.0, "d": 95.0}
    assert prune_seen(seen, now=100.0, ttl_s=45.0, max_entries=10) == {"c": 90.0, "d": 95.0}
    assert prune_seen(seen, now=100.0, ttl_s=1000.0, max_entries=2) == {"c": 90.0, "d": 95.0}


def test_every_sample_feed_parses_into_its_manifest_items() -> None:
    """parse_feed on the bundled feeds: one entry per manifest item, the broken feed a failure."""
    import json
    from collections import Counter

    from samples import BASE_URL_PLACEHOLDER, SITE_DIR

    manifest = json.loads((SITE_DIR / "manifest.json").read_text(encoding="utf-8"))
    expected = Counter(item["feed"] for item in manifest["feed_items"])
    base = "http://127.0.0.1:8000"
    for publisher in manifest["publishers"]:
        for feed in publisher["feeds"]:
            raw = (SITE_DIR / feed["path"].lstrip("/")).read_bytes()
            body = raw.replace(BASE_URL_PLACEHOLDER.encode(), base.encode())
            spec = FeedSpec(base + feed["path"], publisher["name"], language="en")
            parsed = parse_feed(body, spec, SEEN_AT)
            assert parsed.failures == [], feed["path"]
            assert len(parsed.entries) == expected[feed["path"]], feed["path"]
            assert all(entry.url.startswith(base) for entry in parsed.entries)
    for path in manifest["malformed_feeds"]:
        parsed = parse_feed((SITE_DIR / path.lstrip("/")).read_bytes(), FeedSpec(base + path, "X"), SEEN_AT)
        assert [f.error_type for f in parsed.failures] == ["malformed_feed"]
