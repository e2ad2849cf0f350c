"""Pages that are not articles, have no text, are binary, huge or attack the parser:
served from 127.0.0.1, fetched and extracted, each ends as one Failure of a known type."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest

from tests.conftest import MemoryState, Reply, ScriptedServer
from transforms.extract import ExtractSettings, _ExtractFn, extract_html
from transforms.fetch import FetchSettings, _FetchFn
from transforms.http import HttpSettings
from transforms.records import Article, Failure, FeedEntry, FetchedPage

PARAGRAPH = (
    "<p>" + "The committee said on Tuesday that the vote would go ahead as planned next week. " * 8 + "</p>"
)
ARTICLE = f"<html><head><title>Vote</title></head><body><article><h1>Vote</h1>{PARAGRAPH * 3}</article></body></html>"


def _entry(url: str) -> FeedEntry:
    return FeedEntry(url, url, "https://feeds.example/f", "X", datetime(2025, 6, 1, tzinfo=UTC))


def fetch_and_extract(server: ScriptedServer, path: str, settings: ExtractSettings | None = None) -> Any:
    """Through the fetch and extract DoFns; returns the one Article or Failure."""
    http = HttpSettings(allow_private_addresses=True, timeout_s=2, retries=0, max_bytes=20_000_000)
    fetch = _FetchFn(FetchSettings(http=http, min_host_delay_s=0))
    extract = _ExtractFn(settings or ExtractSettings())
    fetch.setup()
    extract.setup()
    try:
        fetched = list(fetch.process(("host", _entry(server.url(path))), state=MemoryState()))
        assert len(fetched) == 1
        if isinstance(fetched[0], beam.pvalue.TaggedOutput):
            return fetched[0].value
        out = list(extract.process(fetched[0]))
    finally:
        fetch.teardown()
    assert len(out) == 1
    return out[0].value if isinstance(out[0], beam.pvalue.TaggedOutput) else out[0]


HOME = (
    "<html><head><title>Example News</title></head><body><nav><ul>"
    + "".join(f'<li><a href="/news/{i}.html">Headline number {i} about the day</a></li>' for i in range(60))
    + "</ul></nav></body></html>"
)
PAGES = {
    "/": (HOME, "not_an_article"),  # a home page: a list of links
    "/section/index.html": (
        HOME.replace("<head>", '<head><meta property="og:type" content="website">'),
        "not_an_article",
    ),
    "/video/1.html": (  # declared a video: its text is a blurb
        ARTICLE.replace("<head>", '<head><meta property="og:type" content="video.other">'),
        "not_an_article",
    ),
    "/shop/index.html": (  # a product grid: prices, forms and cards of links
        "<html><head><title>Shoes</title>"
        '<script type="application/ld+json">{"@type": "CollectionPage"}</script></head><body><h1>Shoes</h1>'
        + "".join(
            f'<div class="product"><a href="/p/{i}">Trail shoe model {i} in blue</a><span>$89.{i:02d}</span>'
            f'<form><input name="qty"><button>Add to cart</button></form></div>'
            for i in range(40)
        )
        + "</body></html>",
        "not_an_article",
    ),
    "/empty-article.html": ("<html><body><article><div></div></article></body></html>", "no_text"),
    "/short.html": ("<html><body><article><p>Only a caption.</p></article></body></html>", "too_short"),
    "/empty.html": ("", "unparseable_html"),
    "/binary.html": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 200, "unparseable_html"),
    "/nul.html": (b"\x00" * 4096, "unparseable_html"),
}


@pytest.mark.parametrize("path", list(PAGES))
def test_not_an_article_no_text_and_binary_are_failures(http_server: ScriptedServer, path: str) -> None:
    body, error_type = PAGES[path]
    data = body.encode() if isinstance(body, str) else body
    http_server.routes[path] = Reply(200, data, {"Content-Type": "text/html"})  # the server lies
    result = fetch_and_extract(http_server, path)
    assert isinstance(result, Failure), result
    assert (result.stage, result.error_type, result.url) == ("extract", error_type, http_server.url(path))


def test_dead_article_redirected_to_the_home_page_is_not_an_article(http_server: ScriptedServer) -> None:
    http_server.routes["/2024/01/02/removed.html"] = Reply(301, headers={"Location": "/"})
    http_server.routes["/"] = Reply(200, ARTICLE.encode(), {"Content-Type": "text/html"})
    result = fetch_and_extract(http_server, "/2024/01/02/removed.html")
    assert isinstance(result, Failure)
    assert (result.error_type, "home page" in result.message) == ("not_an_article", True)


def test_ten_megabytes_of_html_is_refused_without_parsing(http_server: ScriptedServer) -> None:
    big = ("<html><body><article>" + PARAGRAPH * 16_000 + "</article></body></html>").encode()
    assert len(big) > 10_000_000
    http_server.routes["/big.html"] = Reply(200, big, {"Content-Type": "text/html"})
    started = time.monotonic()
    result = fetch_and_extract(http_server, "/big.html")
    assert isinstance(result, Failure)
    assert (result.stage, result.error_type) == ("extract", "too_large")
    assert time.monotonic() - started < 5  # extracting it would take ~20 s


def test_ten_megabytes_stops_at_the_fetch_cap_by_default(http_server: ScriptedServer) -> None:
    http_server.routes["/big.html"] = Reply(200, b"<p>" + b"x" * 10_000_000, {"Content-Type": "text/html"})
    fetch = _FetchFn(
        FetchSettings(http=HttpSettings(allow_private_addresses=True, timeout_s=2), min_host_delay_s=0)
    )
    fetch.setup()
    out = list(fetch.process(("host", _entry(http_server.url("/big.html"))), state=MemoryState()))
    fetch.teardown()
    assert [(o.value.stage, o.value.error_type) for o in out] == [("fetch", "too_large")]


def test_wrong_charset_declaration_does_not_crash(http_server: ScriptedServer) -> None:
    """Latin-1 bytes declared as UTF-8 (header and meta): an article, the text mostly intact."""
    text = "Café société: the committee said on Tuesday that the vote would go ahead as planned. " * 10
    page = f'<html><head><meta charset="utf-8"><title>Café</title></head><body><article><p>{text}</p></article></body></html>'
    http_server.routes["/latin.html"] = Reply(
        200, page.encode("latin-1"), {"Content-Type": "text/html; charset=utf-8"}
    )
    result = fetch_and_extract(http_server, "/latin.html")
    assert isinstance(result, Article), result
    assert "committee said on Tuesday" in result.text
    assert result.word_count >= 100


def test_ordinary_article_still_passes(http_server: ScriptedServer) -> None:
    http_server.routes["/2025/06/01/vote.html"] = Reply(200, ARTICLE.encode(), {"Content-Type": "text/html"})
    result = fetch_and_extract(http_server, "/2025/06/01/vote.html")
    assert isinstance(result, Article), result
    assert (result.title, result.date_source) == ("Vote", "url")


# -- XML attacks in HTML: lxml's HTML parser neither expands nor loads entities ------------


def _lol_page() -> str:
    entities = "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "lol") * 10}">' for i in range(1, 10)
    )
    return f'<?xml version="1.0"?><!DOCTYPE html [{entities}]><html><head><title>&lol9;</title></head><body><article>{PARAGRAPH * 3}<p>&lol9;</p></article></body></html>'


@pytest.mark.parametrize("as_bytes", [True, False])
def test_billion_laughs_in_html_is_not_expanded(as_bytes: bool) -> None:
    page = _lol_page()
    started = time.monotonic()
    extracted = extract_html(page.encode() if as_bytes else page, "https://ex.org/a.html")
    assert time.monotonic() - started < 2
    assert "lollollol" not in repr(extracted)
    assert "committee said" in (extracted.text or "")


def test_external_entity_in_html_does_not_read_the_file(tmp_path: Path, http_server: ScriptedServer) -> None:
    secret = "TOPSECRET-" + tmp_path.name
    (tmp_path / "secret.txt").write_text(secret)
    page = (
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{tmp_path / "secret.txt"}">]>'
        f"<html><head><title>&xxe;</title></head><body><article><h1>&xxe;</h1>{PARAGRAPH * 3}<p>&xxe;</p>"
        "</article></body></html>"
    )
    http_server.routes["/2025/06/01/xxe.html"] = Reply(
        200, page.encode(), {"Content-Type": "application/xhtml+xml"}
    )
    result = fetch_and_extract(http_server, "/2025/06/01/xxe.html")
    assert isinstance(result, Article | Failure)
    assert secret not in repr(result)


def test_page_records_through_extract_never_raise() -> None:
    """Whatever the bytes, the DoFn yields exactly one output (an article or a failure)."""
    fn = _ExtractFn(ExtractSettings())
    fn.setup()
    bodies = [
        b"",
        b"<",
        b"<html" * 10_000,
        b"\xff\xfe" + "<html>é</html>".encode("utf-16-le"),
        bytes(range(256)) * 50,
    ]
    for body in bodies:
        page = FetchedPage(_entry("https://ex.org/a/b.html"), "https://ex.org/a/b.html", body)
        out = list(fn.process(page))
        assert len(out) == 1
        assert isinstance(out[0], beam.pvalue.TaggedOutput | Article)
