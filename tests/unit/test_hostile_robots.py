"""robots.txt through the fetch DoFn against a local server: Disallow and Crawl-delay honoured."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import pytest

import transforms.fetch
from tests.conftest import MemoryState, Reply, ScriptedServer
from transforms.fetch import FetchSettings, _FetchFn
from transforms.http import HttpSettings
from transforms.records import FeedEntry, FetchedPage

HTTP = HttpSettings(allow_private_addresses=True, timeout_s=1, retries=0, user_agent="newsbeam/0.1")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(transforms.fetch.time, "sleep", recorded.append)
    return recorded


def _fetch_all(server: ScriptedServer, paths: list[str], **settings: Any) -> list[Any]:
    """Fetch ``paths`` in order with one host state and a frozen clock."""
    fn = _FetchFn(FetchSettings(http=HTTP, **settings), clock=lambda: 1000.0)
    fn.setup()
    state = MemoryState()
    results = []
    try:
        for path in paths:
            url = server.url(path)
            entry = FeedEntry(url, url, "https://feeds.example/f", "X", datetime(2025, 6, 1, tzinfo=UTC))
            (out,) = fn.process(("host", entry), state=state)
            results.append(out.value if isinstance(out, beam.pvalue.TaggedOutput) else out)
    finally:
        fn.teardown()
    return results


def _pages(server: ScriptedServer) -> None:
    for path in ("/news/a.html", "/news/b.html", "/private/x.html"):
        server.routes[path] = Reply(200, b"<html>page</html>", {"Content-Type": "text/html"})


def test_disallowed_page_is_a_failure_and_never_requested(
    http_server: ScriptedServer, sleeps: list[float]
) -> None:
    _pages(http_server)
    http_server.routes["/robots.txt"] = Reply(200, b"User-agent: *\nDisallow: /private/\n")
    first, second = _fetch_all(http_server, ["/private/x.html", "/news/a.html"], min_host_delay_s=0)
    assert (first.stage, first.error_type, first.attempt) == ("fetch", "robots_disallowed", 1)
    assert isinstance(second, FetchedPage)
    assert [path for path, _ in http_server.requests] == ["/robots.txt", "/news/a.html"]  # robots once


def test_group_for_our_user_agent_wins(http_server: ScriptedServer, sleeps: list[float]) -> None:
    _pages(http_server)
    http_server.routes["/robots.txt"] = Reply(
        200, b"User-agent: *\nAllow: /\n\nUser-agent: newsbeam\nDisallow: /\n"
    )
    (result,) = _fetch_all(http_server, ["/news/a.html"], min_host_delay_s=0)
    assert result.error_type == "robots_disallowed"


def test_crawl_delay_spaces_requests_to_a_host(http_server: ScriptedServer, sleeps: list[float]) -> None:
    _pages(http_server)
    http_server.routes["/robots.txt"] = Reply(200, b"User-agent: *\nCrawl-delay: 4\n")
    results = _fetch_all(http_server, ["/news/a.html", "/news/b.html"], min_host_delay_s=1)
    assert all(isinstance(r, FetchedPage) for r in results)
    # after robots.txt, and between the two pages: the site's delay, larger than ours
    assert sleeps == [4.0, 4.0]


def test_crawl_delay_is_capped(http_server: ScriptedServer, sleeps: list[float]) -> None:
    _pages(http_server)
    http_server.routes["/robots.txt"] = Reply(200, b"User-agent: *\nCrawl-delay: 86400\n")
    _fetch_all(http_server, ["/news/a.html"], min_host_delay_s=0, max_crawl_delay_s=7)
    assert sleeps == [7.0]


def test_robots_server_error_means_do_not_fetch_now(http_server: ScriptedServer, sleeps: list[float]) -> None:
    _pages(http_server)
    http_server.routes["/robots.txt"] = Reply(503)
    (result,) = _fetch_all(http_server, ["/news/a.html"], min_host_delay_s=0)
    assert result.error_type == "robots_unavailable"
    assert [path for path, _ in http_server.requests] == ["/robots.txt"]


@pytest.mark.parametrize(
    "robots",
    [
        Reply(404),
        Reply(200, b"<html><body>Not a robots file</body></html>"),
        Reply(200, bytes(range(256)) * 64),
    ],
    ids=["missing", "html", "binary"],
)
def test_missing_or_garbage_robots_allows_everything(
    http_server: ScriptedServer, sleeps: list[float], robots: Reply
) -> None:
    _pages(http_server)
    http_server.routes["/robots.txt"] = robots
    (result,) = _fetch_all(http_server, ["/private/x.html"], min_host_delay_s=0)
    assert isinstance(result, FetchedPage)
