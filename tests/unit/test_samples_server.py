"""The sample-site server: conditional GET, gzip, content types, placeholders, replay."""

from __future__ import annotations

import gzip
import http.client
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from samples import SITE_DIR
from samples.server import Replay, SampleSite, SiteContent, accepts_gzip, etag_matches

MANIFEST = json.loads((SITE_DIR / "manifest.json").read_text(encoding="utf-8"))
ATOM_FEED = "/feeds/harbor-times.atom"
RSS_FEED = "/feeds/daily-ledger.xml"
CP1252_FEED = "/feeds/continental-post.xml"


def get(
    site: SampleSite, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection (closed afterwards)."""
    parts = urlsplit(site.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite() as s:
        yield s


def items_of(feed: str) -> list[dict[str, object]]:
    return [i for i in MANIFEST["feed_items"] if i["feed"] == feed]


def test_serves_on_loopback_with_free_port(site: SampleSite) -> None:
    parts = urlsplit(site.base_url)
    assert parts.hostname == "127.0.0.1"
    assert parts.port and parts.port > 0


def test_placeholder_substituted_and_query_ignored(site: SampleSite) -> None:
    status, headers, body = get(site, RSS_FEED)
    assert status == 200
    assert b"{{BASE_URL}}" not in body
    assert site.base_url.encode() + b"/daily-ledger/" in body
    status2, headers2, body2 = get(site, RSS_FEED + "?utm_source=x&fbclid=abc")
    assert (status2, body2, headers2["etag"]) == (200, body, headers["etag"])


def test_etag_round_trip(site: SampleSite) -> None:
    status, headers, _ = get(site, ATOM_FEED)
    assert status == 200
    tag = headers["etag"]
    assert tag.startswith('"') and not tag.startswith("W/")
    status, headers304, body = get(site, ATOM_FEED, {"If-None-Match": tag})
    assert (status, body) == (304, b"")
    assert headers304["etag"] == tag
    status, _, body = get(site, ATOM_FEED, {"If-None-Match": '"something-else"'})
    assert status == 200 and body


def test_last_modified_is_newest_item_and_if_modified_since(site: SampleSite) -> None:
    status, headers, _ = get(site, ATOM_FEED)
    assert status == 200
    last_modified = parsedate_to_datetime(headers["last-modified"])
    newest = max(str(i["published"]) for i in items_of(ATOM_FEED))
    assert last_modified.isoformat().replace("+00:00", "Z") == newest
    assert get(site, ATOM_FEED, {"If-Modified-Since": headers["last-modified"]})[0] == 304
    earlier = format_datetime(last_modified - timedelta(days=1), usegmt=True)
    assert get(site, ATOM_FEED, {"If-Modified-Since": earlier})[0] == 200
    assert get(site, ATOM_FEED, {"If-Modified-Since": "not a date"})[0] == 200


def test_gzip_negotiation(site: SampleSite) -> None:
    _, plain_headers, plain = get(site, RSS_FEED)
    status, headers, body = get(site, RSS_FEED, {"Accept-Encoding": "gzip, deflate"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body) < len(plain)
    assert gzip.decompress(body) == plain
    assert headers["etag"] != plain_headers["etag"]  # a different representation
    assert get(site, RSS_FEED, {"If-None-Match": plain_headers["etag"], "Accept-Encoding": "gzip"})[0] == 304
    for refused in ("gzip;q=0", "identity", "br"):
        _, h, b = get(site, RSS_FEED, {"Accept-Encoding": refused})
        assert "content-encoding" not in h and b == plain


def test_accept_encoding_parsing() -> None:
    assert accepts_gzip("gzip")
    assert accepts_gzip("br;q=1.0, gzip;q=0.5")
    assert accepts_gzip("*")
    assert not accepts_gzip("")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("*;q=0")
    assert not accepts_gzip("*, gzip;q=0")
    assert etag_matches('W/"abc", "def"', '"def-gzip"')
    assert etag_matches("*", '"x"')
    assert not etag_matches('"abc"', '"def"')


def test_unknown_paths_are_404(site: SampleSite) -> None:
    assert get(site, "/no/such/page.html")[0] == 404
    assert get(site, "/../../etc/passwd")[0] == 404
    broken = next(i for i in MANIFEST["feed_items"] if i["expect"] == "http_404")
    assert get(site, urlsplit(str(broken["link"])).path)[0] == 404


def test_head_has_headers_but_no_body(site: SampleSite) -> None:
    _, get_headers, body = get(site, "/index.html")
    status, headers, head_body = get(site, "/index.html", method="HEAD")
    assert status == 200 and head_body == b""
    assert headers["content-length"] == str(len(body)) == get_headers["content-length"]
    assert headers["etag"] == get_headers["etag"]


def test_content_types(site: SampleSite) -> None:
    article = MANIFEST["articles"][0]["path"]
    assert get(site, article)[1]["content-type"] == "text/html; charset=utf-8"
    assert get(site, ATOM_FEED)[1]["content-type"] == "application/atom+xml; charset=utf-8"
    assert get(site, RSS_FEED)[1]["content-type"] == "application/rss+xml; charset=utf-8"
    assert get(site, "/robots.txt")[1]["content-type"] == "text/plain; charset=utf-8"
    assert get(site, "/")[1]["content-type"] == "text/html; charset=utf-8"  # index.html


def test_non_utf8_feed_and_page_keep_their_encoding(site: SampleSite) -> None:
    status, headers, body = get(site, CP1252_FEED)
    assert status == 200
    assert headers["content-type"] == "application/rss+xml; charset=windows-1252"
    assert body.startswith(b'<?xml version="1.0" encoding="windows-1252"?>')
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert site.base_url in body.decode("cp1252")
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    titles = " ".join(e.title for e in parsed.entries)
    assert "Zürich" in titles and "Genève" in titles and "Núñez" in titles
    page = next(a["path"] for a in MANIFEST["articles"] if a["encoding"] == "windows-1252")
    _, page_headers, page_body = get(site, page)
    assert page_headers["content-type"] == "text/html; charset=windows-1252"
    assert site.base_url in page_body.decode("cp1252")


def test_directory_redirects_and_index(site: SampleSite) -> None:
    status, headers, _ = get(site, "/capital-bulletin/world")
    assert status == 301
    assert headers["location"] == site.base_url + "/capital-bulletin/world/"
    assert get(site, "/capital-bulletin/world/")[0] == 200


def test_robots_txt(site: SampleSite) -> None:
    status, _, body = get(site, "/robots.txt")
    assert status == 200 and b"Disallow: /private/" in body


def test_replay_with_injected_clock_releases_oldest_first() -> None:
    now = [100.0]
    full = SiteContent(SITE_DIR)
    full.base_url = "http://127.0.0.1:1"
    content = SiteContent(SITE_DIR, Replay(initial=0, every_s=10.0), clock=lambda: now[0])
    content.base_url = full.base_url
    all_entries = feedparser.parse(full.respond(ATOM_FEED, {}).body).entries
    oldest_first = [e.id for e in reversed(all_entries)]

    empty = content.respond(ATOM_FEED, {})
    assert empty.status == 200
    assert feedparser.parse(empty.body).entries == []
    assert "Last-Modified" not in dict(empty.headers)

    now[0] += 25.0  # two items released
    two = content.respond(ATOM_FEED, {})
    ids = [e.id for e in feedparser.parse(two.body).entries]
    assert ids == list(reversed(oldest_first[:2]))  # served newest first
    assert dict(two.headers)["ETag"] != dict(empty.headers)["ETag"]
    assert content.respond(ATOM_FEED, {"if-none-match": dict(two.headers)["ETag"]}).status == 304

    now[0] += 10.0 * len(oldest_first)  # everything released: identical to the full feed
    assert content.respond(ATOM_FEED, {}).body == full.respond(ATOM_FEED, {}).body
    malformed = MANIFEST["malformed_feeds"][0]
    assert content.respond(malformed, {}).body == full.respond(malformed, {}).body


def test_replay_last_modified_moves_forward_even_for_undated_items() -> None:
    now = [0.0]
    content = SiteContent(SITE_DIR, Replay(initial=1, every_s=1.0), clock=lambda: now[0])
    undated_feeds = {str(i["feed"]) for i in MANIFEST["feed_items"] if i["published"] is None}
    for feed in sorted(undated_feeds):
        now[0] = 0.0
        previous = None
        for _ in items_of(feed):
            headers = dict(content.respond(feed, {}).headers)
            modified = parsedate_to_datetime(headers["Last-Modified"])
            assert previous is None or modified > previous
            previous = modified
            now[0] += 1.0


def test_replay_releases_items_over_time() -> None:
    with SampleSite(replay=Replay(initial=1, every_s=0.2)) as site:
        first = feedparser.parse(get(site, RSS_FEED)[2]).entries
        assert 1 <= len(first) <= 3
        deadline = time.monotonic() + 10
        count = len(first)
        while count < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
            count = len(feedparser.parse(get(site, RSS_FEED)[2]).entries)
        assert count >= 5
        assert len(items_of(RSS_FEED)) > count  # not everything yet


def test_replay_window_lists_only_the_newest_released_items() -> None:
    now = [0.0]
    content = SiteContent(SITE_DIR, Replay(initial=1, every_s=1.0, window=2), clock=lambda: now[0])
    content.base_url = "http://127.0.0.1:1"
    full = SiteContent(SITE_DIR)
    full.base_url = content.base_url
    oldest_first = [e.id for e in reversed(feedparser.parse(full.respond(ATOM_FEED, {}).body).entries)]
    assert [e.id for e in feedparser.parse(content.respond(ATOM_FEED, {}).body).entries] == oldest_first[:1]
    now[0] = 3.0  # four released, the newest two listed
    listed = [e.id for e in feedparser.parse(content.respond(ATOM_FEED, {}).body).entries]
    assert listed == list(reversed(oldest_first[2:4]))


def test_replay_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="every_s"):
        Replay(every_s=0)
    with pytest.raises(ValueError, match="window"):
        Replay(window=0)
    assert Replay(initial=2, every_s=0.5).released(1.2) == 4


def test_other_site_dir(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<a href="{{BASE_URL}}/x">x</a>', encoding="utf-8")
    with SampleSite(site_dir=tmp_path) as site:
        status, _, body = get(site, "/")
        assert status == 200
        assert body == f'<a href="{site.base_url}/x">x</a>'.encode()
        assert site.feed_paths == []
