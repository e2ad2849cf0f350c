"""http_get / get_with_retries against a scripted server on 127.0.0.1."""

from __future__ import annotations

import gzip

import pytest
import requests

from tests.conftest import Reply, ScriptedServer
from transforms.http import HttpError, HttpSettings, get_with_retries, http_get

LOCAL = HttpSettings(allow_private_addresses=True, timeout_s=2, retries=2, backoff_s=0.01)


@pytest.fixture
def session() -> requests.Session:
    return requests.Session()


def test_ok_and_user_agent(http_server: ScriptedServer, session: requests.Session) -> None:
    http_server.routes["/a"] = Reply(200, b"hello", {"Content-Type": "text/html"})
    response = http_get(
        session, http_server.url("/a"), HttpSettings(user_agent="ua/1", allow_private_addresses=True)
    )
    assert (response.status, response.body, response.content_type) == (200, b"hello", "text/html")
    assert http_server.requests[-1][1]["User-Agent"] == "ua/1"


def test_private_addresses_refused_by_default(http_server: ScriptedServer, session: requests.Session) -> None:
    http_server.routes["/a"] = Reply(200, b"secret")
    with pytest.raises(HttpError) as raised:
        http_get(session, http_server.url("/a"), HttpSettings())
    assert raised.value.error_type == "blocked_address"
    assert http_server.requests == []


@pytest.mark.parametrize(("status", "transient"), [(404, False), (410, False), (403, False), (503, True)])
def test_error_statuses_are_sorted(
    http_server: ScriptedServer, session: requests.Session, status: int, transient: bool
) -> None:
    http_server.routes["/a"] = Reply(status, b"no")
    with pytest.raises(HttpError) as raised:
        http_get(session, http_server.url("/a"), LOCAL)
    assert raised.value.error_type == f"http_{status}"
    assert raised.value.transient is transient


def test_transient_errors_are_retried_with_backoff(
    http_server: ScriptedServer, session: requests.Session
) -> None:
    replies = iter([Reply(503), Reply(429, headers={"Retry-After": "2"}), Reply(200, b"ok")])
    http_server.routes["/a"] = lambda _: next(replies)
    sleeps: list[float] = []
    response, attempts = get_with_retries(session, http_server.url("/a"), LOCAL, sleep=sleeps.append)
    assert (response.body, attempts) == (b"ok", 3)
    assert sleeps[0] == pytest.approx(0.01)
    assert sleeps[1] == pytest.approx(2.0)  # Retry-After honoured


def test_retries_are_bounded(http_server: ScriptedServer, session: requests.Session) -> None:
    http_server.routes["/a"] = Reply(500)
    with pytest.raises(HttpError) as raised:
        get_with_retries(session, http_server.url("/a"), LOCAL, sleep=lambda _: None)
    assert raised.value.attempts == LOCAL.retries + 1
    assert len(http_server.requests) == LOCAL.retries + 1


def test_permanent_errors_are_not_retried(http_server: ScriptedServer, session: requests.Session) -> None:
    with pytest.raises(HttpError) as raised:
        get_with_retries(session, http_server.url("/missing"), LOCAL, sleep=lambda _: None)
    assert (raised.value.error_type, raised.value.attempts) == ("http_404", 1)


def test_redirects_followed_and_capped(http_server: ScriptedServer, session: requests.Session) -> None:
    http_server.routes["/old"] = Reply(301, headers={"Location": "/new"})
    http_server.routes["/new"] = Reply(200, b"moved")
    http_server.routes["/loop"] = Reply(302, headers={"Location": "/loop"})
    response = http_get(session, http_server.url("/old"), LOCAL)
    assert (response.url, response.body) == (http_server.url("/new"), b"moved")
    with pytest.raises(HttpError) as raised:
        http_get(session, http_server.url("/loop"), LOCAL)
    assert raised.value.error_type == "too_many_redirects"


def test_size_cap_applies_to_decompressed_bytes(
    http_server: ScriptedServer, session: requests.Session
) -> None:
    bomb = gzip.compress(b"0" * 3_000_000)
    http_server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})
    http_server.routes["/big"] = Reply(200, b"x" * 20_000)
    settings = HttpSettings(allow_private_addresses=True, max_bytes=10_000)
    for path in ("/bomb", "/big"):
        with pytest.raises(HttpError) as raised:
            http_get(session, http_server.url(path), settings)
        assert raised.value.error_type == "too_large"


def test_content_type_check(http_server: ScriptedServer, session: requests.Session) -> None:
    http_server.routes["/pdf"] = Reply(200, b"%PDF", {"Content-Type": "application/pdf"})
    settings = HttpSettings(allow_private_addresses=True, allowed_content_types=("text/html",))
    with pytest.raises(HttpError) as raised:
        http_get(session, http_server.url("/pdf"), settings)
    assert raised.value.error_type == "bad_content_type"


def test_conditional_get_returns_304(http_server: ScriptedServer, session: requests.Session) -> None:
    http_server.routes["/feed"] = lambda handler: (
        Reply(304)
        if handler.headers.get("If-None-Match") == '"v1"'
        else Reply(200, b"<rss/>", {"ETag": '"v1"'})
    )
    first = http_get(session, http_server.url("/feed"), LOCAL)
    second = http_get(session, http_server.url("/feed"), LOCAL, {"If-None-Match": first.headers["etag"]})
    assert (first.status, second.status, second.body) == (200, 304, b"")


def test_connection_refused_is_transient(session: requests.Session) -> None:
    with pytest.raises(HttpError) as raised:
        http_get(session, "http://127.0.0.1:9/", LOCAL)
    assert raised.value.error_type == "connection_error"
    assert raised.value.transient
