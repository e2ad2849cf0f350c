"""Servers that fail, lie, stall or attack: every case is an ``HttpError`` of a known type.

Complements test_http.py (which has the basic cases) with what a hostile web does: every
test talks to a server on 127.0.0.1 with short timeouts.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable
from email.utils import formatdate

import pytest
import requests

from tests.conftest import Reply, ScriptedServer
from transforms.http import HttpError, HttpSettings, get_with_retries, http_get

LOCAL = HttpSettings(allow_private_addresses=True, timeout_s=0.3, retries=2, backoff_s=0.05)


class RawServer:
    """One TCP listener on 127.0.0.1; ``handle(conn)`` writes whatever bytes it likes."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._handle = handle
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                with contextlib.suppress(OSError):  # the client gave up: that is the point
                    self._handle(conn)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


# -- status codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_gone_and_not_found_are_permanent_and_not_retried(
    http_server: ScriptedServer, session: requests.Session, status: int
) -> None:
    http_server.routes["/a"] = Reply(status, b"gone")
    sleeps: list[float] = []
    with pytest.raises(HttpError) as raised:
        get_with_retries(session, http_server.url("/a"), LOCAL, sleep=sleeps.append)
    assert (raised.value.error_type, raised.value.transient, raised.value.attempts) == (
        f"http_{status}",
        False,
        1,
    )
    assert (len(http_server.requests), sleeps) == (1, [])


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_exponential_backoff_then_failed(
    http_server: ScriptedServer, session: requests.Session, status: int
) -> None:
    http_server.routes["/a"] = Reply(status, b"down")
    sleeps: list[float] = []
    with pytest.raises(HttpError) as raised:
        get_with_retries(session, http_server.url("/a"), LOCAL, sleep=sleeps.append)
    assert (raised.value.error_type, raised.value.transient) == (f"http_{status}", True)
    assert raised.value.attempts == len(http_server.requests) == LOCAL.retries + 1
    assert sleeps == pytest.approx([0.05, 0.1])


def test_timeouts_are_retried_then_failed(http_server: ScriptedServer, session: requests.Session) -> None:
    def slow(_: object) -> Reply:
        time.sleep(0.6)  # longer than the 0.3 s read timeout
        return Reply(200, b"late")

    http_server.routes["/slow"] = slow
    sleeps: list[float] = []
    started = time.monotonic()
    with pytest.raises(HttpError) as raised:
        get_with_retries(session, http_server.url("/slow"), LOCAL, sleep=sleeps.append)
    assert (raised.value.error_type, raised.value.transient) == ("timeout", True)
    assert raised.value.attempts == LOCAL.retries + 1
    assert len(sleeps) == LOCAL.retries
    assert time.monotonic() - started < 3 * 0.3 + 1.0


@pytest.mark.parametrize(
    ("retry_after", "expected_sleep"),
    [("1", 1.0), ("HTTP-DATE+30", 30.0), ("soon", 0.05), ("-5", 0.05)],
    ids=["seconds", "http-date", "garbage", "negative"],
)
def test_429_retry_after_is_honoured(
    http_server: ScriptedServer, session: requests.Session, retry_after: str, expected_sleep: float
) -> None:
    if retry_after == "HTTP-DATE+30":
        retry_after = formatdate(time.time() + 30, usegmt=True)
    replies = iter([Reply(429, headers={"Retry-After": retry_after}), Reply(200, b"ok")])
    http_server.routes["/a"] = lambda _: next(replies)
    sleeps: list[float] = []
    response, attempts = get_with_retries(session, http_server.url("/a"), LOCAL, sleep=sleeps.append)
    assert (response.body, attempts) == (b"ok", 2)
    assert sleeps == [pytest.approx(expected_sleep, abs=2)]
    assert sleeps[0] >= LOCAL.backoff_s  # never below the backoff


def test_429_asking_for_too_long_a_wait_fails_now(
    http_server: ScriptedServer, session: requests.Session
) -> None:
    http_server.routes["/a"] = Reply(429, headers={"Retry-After": "86400"})
    sleeps: list[float] = []
    with pytest.raises(HttpError) as raised:
        get_with_retries(session, http_server.url("/a"), LOCAL, sleep=sleeps.append)
    assert (raised.value.error_type, raised.value.retry_after_s, raised.value.attempts) == (
        "http_429",
        86400,
        1,
    )
    assert sleeps == []


# -- redirects ------------------------------------------------------------------------------


def test_redirect_loop_and_long_chains_are_capped(
    http_server: ScriptedServer, session: requests.Session
) -> None:
    http_server.routes["/a"] = Reply(302, headers={"Location": "/b"})
    http_server.routes["/b"] = Reply(302, headers={"Location": "/a"})
    for hop in range(10):
        http_server.routes[f"/r{hop}"] = Reply(301, headers={"Location": f"/r{hop + 1}"})
    http_server.routes["/r10"] = Reply(200, b"finally")
    settings = HttpSettings(allow_private_addresses=True, timeout_s=0.5, max_redirects=3)
    with pytest.raises(HttpError) as loop:
        http_get(session, http_server.url("/a"), settings)
    assert (loop.value.error_type, len(http_server.requests)) == ("too_many_redirects", 4)
    http_server.requests.clear()
    with pytest.raises(HttpError) as chain:
        http_get(session, http_server.url("/r0"), settings)
    assert (chain.value.error_type, len(http_server.requests)) == ("too_many_redirects", 4)
    assert chain.value.url == http_server.url("/r4")


@pytest.mark.parametrize(
    ("location", "error_type"),
    [("file:///etc/passwd", "invalid_url"), ("ftp://ex.org/x", "invalid_url"), (None, "bad_redirect")],
)
def test_redirects_to_other_schemes_or_nowhere(
    http_server: ScriptedServer, session: requests.Session, location: str | None, error_type: str
) -> None:
    http_server.routes["/a"] = Reply(302, b"see other", {"Location": location} if location else {})
    with pytest.raises(HttpError) as raised:
        http_get(session, http_server.url("/a"), LOCAL)
    assert raised.value.error_type == error_type
    assert len(http_server.requests) == 1


# -- bodies ---------------------------------------------------------------------------------


def test_trickling_server_meets_the_total_deadline() -> None:
    """One byte every 50 ms never trips the per-read timeout; the total deadline stops it."""

    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(200):  # 10 s if nobody stops it
            conn.sendall(b"x")
            time.sleep(0.05)

    settings = HttpSettings(allow_private_addresses=True, timeout_s=0.3)  # deadline 3 x 0.3 s
    with RawServer(trickle) as server, requests.Session() as session:
        started = time.monotonic()
        with pytest.raises(HttpError) as raised:
            http_get(session, server.url, settings)
        elapsed = time.monotonic() - started
    assert (raised.value.error_type, raised.value.transient) == ("timeout", True)
    assert "deadline" in str(raised.value)
    assert 0.9 <= elapsed < 0.9 + 0.3 + 0.5


def test_body_cut_off_mid_way_is_a_transient_connection_error() -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\nonly this")

    with RawServer(cut) as server, requests.Session() as session, pytest.raises(HttpError) as raised:
        http_get(session, server.url, LOCAL)
    assert (raised.value.error_type, raised.value.transient) == ("connection_error", True)


def test_not_http_at_all() -> None:
    def babble(conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n" + b"\x00\xff" * 100)

    with RawServer(babble) as server, requests.Session() as session, pytest.raises(HttpError) as raised:
        http_get(session, server.url, LOCAL)
    assert raised.value.error_type in {"connection_error", "request_error"}


def _capped_fetch(url: str, session: requests.Session) -> tuple[HttpError, int]:
    settings = HttpSettings(allow_private_addresses=True, timeout_s=2, max_bytes=100_000)
    tracemalloc.start()
    try:
        with pytest.raises(HttpError) as raised:
            http_get(session, url, settings)
        return raised.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_body_larger_than_the_declared_cap(http_server: ScriptedServer, session: requests.Session) -> None:
    http_server.routes["/big"] = Reply(200, b"<p>" + b"x" * 5_000_000)
    error, peak = _capped_fetch(http_server.url("/big"), session)
    assert (error.error_type, "Content-Length" in str(error)) == ("too_large", True)
    assert peak < 1_000_000


def test_body_larger_than_the_cap_without_content_length(session: requests.Session) -> None:
    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
        for _ in range(100):  # 6.5 MB, delimited only by closing the connection
            conn.sendall(b"x" * 65536)

    with RawServer(endless) as server:
        error, peak = _capped_fetch(server.url, session)
    assert (error.error_type, "body larger" in str(error)) == ("too_large", True)
    assert peak < 1_000_000  # the cap, not the body


def _gzip_bomb(mebibytes: int) -> bytes:
    # A gzip stream may hold many members (RFC 1952): one 1 MiB member of zeros, repeated.
    return gzip.compress(bytes(1 << 20), 9) * mebibytes


def test_gzip_bomb_stops_at_the_decompressed_cap_in_bounded_memory(
    http_server: ScriptedServer, session: requests.Session
) -> None:
    bomb = _gzip_bomb(1024)  # 1 GiB of zeros in ~1 MB
    assert len(bomb) < 2_000_000
    http_server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip", "Content-Type": "text/html"})
    settings = HttpSettings(allow_private_addresses=True, timeout_s=2, max_bytes=1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(HttpError) as raised:
            http_get(session, http_server.url("/bomb"), settings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert raised.value.error_type == "too_large"
    assert peak < 8_000_000


def test_corrupt_gzip_is_a_permanent_error(http_server: ScriptedServer, session: requests.Session) -> None:
    body = gzip.compress(b"<html>fine</html>")[:10] + b"this is not deflate data" * 10
    http_server.routes["/bad"] = Reply(200, body, {"Content-Encoding": "gzip"})
    with pytest.raises(HttpError) as raised:
        http_get(session, http_server.url("/bad"), LOCAL)
    assert (raised.value.error_type, raised.value.transient) == ("bad_encoding", False)


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("text/html; charset=utf-8", True),
        ("TEXT/HTML", True),
        (None, True),  # missing: the extractor looks at the bytes
        ("application/pdf", False),
        ("image/png", False),
        ("application/octet-stream", False),
        ("text/plain", False),
    ],
)
def test_page_content_types(
    http_server: ScriptedServer, session: requests.Session, content_type: str | None, accepted: bool
) -> None:
    http_server.routes["/p"] = Reply(
        200, b"<html></html>", {"Content-Type": content_type} if content_type else {}
    )
    settings = HttpSettings(
        allow_private_addresses=True,
        timeout_s=1,
        allowed_content_types=("text/html", "application/xhtml+xml"),
    )
    if accepted:
        assert http_get(session, http_server.url("/p"), settings).body == b"<html></html>"
    else:
        with pytest.raises(HttpError) as raised:
            http_get(session, http_server.url("/p"), settings)
        assert (raised.value.error_type, raised.value.transient) == ("bad_content_type", False)


def test_empty_body_is_returned_for_the_next_stage_to_judge(
    http_server: ScriptedServer, session: requests.Session
) -> None:
    http_server.routes["/empty"] = Reply(200, b"", {"Content-Type": "text/html"})
    response = http_get(session, http_server.url("/empty"), LOCAL)
    assert (response.status, response.body) == (200, b"")
