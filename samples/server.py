"""Serve the sample site on 127.0.0.1: ``python -m samples.server [--port N] [--replay-every S]``.

A small threaded stdlib HTTP server that behaves like a well-run news site: ``{{BASE_URL}}`` is
replaced by the server's own address, query strings are ignored, each file gets its real
``Content-Type``/charset, responses carry a strong ``ETag`` and a fixed ``Last-Modified`` and
honour conditional requests (304), gzip is negotiated, unknown paths are 404, HEAD works.

Replay mode releases feed items progressively, oldest first: ``initial`` items per feed at start,
then one more per feed every ``every_s`` seconds, so a streaming pipeline sees new entries arrive.
With a ``window``, a feed lists only its newest ``window`` released items, as real feeds do (long
runs over large generated sites: feeds stay small while new items keep arriving).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

from samples import BASE_URL_PLACEHOLDER, SITE_DIR


@dataclass(frozen=True)
class Replay:
    """Progressive release of feed items for streaming runs."""

    initial: int = 0  # items released at start, per feed (oldest first)
    every_s: float = 1.0  # then one more item per feed every every_s seconds
    window: int | None = None  # a feed lists at most this many of its newest released items

    def __post_init__(self) -> None:
        if self.initial < 0 or self.every_s <= 0:
            raise ValueError("Replay needs initial >= 0 and every_s > 0")
        if self.window is not None and self.window < 1:
            raise ValueError("Replay needs window >= 1 (or None: every released item)")

    def released(self, elapsed_s: float) -> int:
        return self.initial + int(max(0.0, elapsed_s) // self.every_s)


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------

_XML_ENCODING = re.compile(rb"""<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_HTML_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9._-]+)""", re.IGNORECASE)
_ITEM = re.compile(r"<(item|entry)\b.*?</\1>\s*", re.DOTALL)
_ITEM_DATE = re.compile(r"<(pubDate|published|updated)>([^<]+)</\1>")
_TEXT_TYPES = {
    ".html": "text/html",
    ".txt": "text/plain",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


def charset_of(name: str, body: bytes) -> str:
    """The encoding a file declares (XML prolog or HTML meta), default utf-8."""
    pattern = _XML_ENCODING if name.endswith((".xml", ".atom")) else _HTML_CHARSET
    m = pattern.search(body[:2048])
    return m.group(1).decode("ascii").lower() if m else "utf-8"


def content_type(name: str, body: bytes) -> str:
    if name.endswith((".xml", ".atom")):
        kind = "atom" if b"<feed" in body[:4096] else "rss"
        return f"application/{kind}+xml; charset={charset_of(name, body)}"
    suffix = Path(name).suffix
    if suffix in _TEXT_TYPES:
        charset = charset_of(name, body) if suffix == ".html" else "utf-8"
        return f"{_TEXT_TYPES[suffix]}; charset={charset}"
    return "application/octet-stream"


def accepts_gzip(accept_encoding: str) -> bool:
    """True if an Accept-Encoding header allows gzip (explicitly or via ``*``), q > 0."""
    codings: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        m = re.search(r"q=([0-9.]+)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        if name:
            codings[name.strip().lower()] = q
    if "gzip" in codings:
        return codings["gzip"] > 0
    return codings.get("*", 0.0) > 0


def etag_matches(if_none_match: str, tag: str) -> bool:
    """Weak comparison of an If-None-Match list with our tag (either representation)."""
    want = tag.strip('"').removesuffix("-gzip")
    for cand in if_none_match.split(","):
        cand = cand.strip()
        if cand == "*":
            return True
        if cand.removeprefix("W/").strip('"').removesuffix("-gzip") == want:
            return True
    return False


def parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _item_date(item: str) -> datetime | None:
    m = _ITEM_DATE.search(item)
    if not m:
        return None
    if m.group(1) == "pubDate":
        return parse_http_date(m.group(2))
    try:
        return datetime.fromisoformat(m.group(2).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class SplitFeed:
    """A feed cut into head, items (oldest first) and tail, for rendering a subset of items."""

    head: str
    items: tuple[str, ...]  # oldest first
    tail: str
    encoding: str
    modified: tuple[datetime, ...]  # per item, strictly increasing: Last-Modified after release

    def render(self, n: int, window: int | None = None) -> str:
        """The ``n`` oldest items, newest first; with ``window``, only the newest of them."""
        first = 0 if window is None else max(0, n - window)
        return self.head + "".join(reversed(self.items[first:n])) + self.tail


def split_feed(body: bytes, encoding: str) -> SplitFeed | None:
    """Split a well-formed RSS/Atom feed whose items are listed newest first; None if malformed."""
    text = body.decode(encoding)
    matches = list(_ITEM.finditer(text))
    if not matches or not re.search(r"</(rss|feed)>\s*$", text):
        return None
    head, tail = text[: matches[0].start()], text[matches[-1].end() :]
    items = tuple(m.group(0) for m in reversed(matches))
    dates = [_item_date(i) for i in items]
    known = [d for d in dates if d is not None]
    prev = (min(known) if known else datetime(2025, 1, 1, tzinfo=UTC)) - timedelta(seconds=1)
    modified: list[datetime] = []
    for d in dates:  # undated or same-second items still move Last-Modified forward
        prev = max(d, prev + timedelta(seconds=1)) if d else prev + timedelta(seconds=1)
        modified.append(prev.replace(microsecond=0))
    return SplitFeed(head, items, tail, encoding, tuple(modified))


def _is_text(name: str) -> bool:
    return name.endswith((".xml", ".atom", *_TEXT_TYPES))


# --------------------------------------------------------------------------------------------
# The site: files in memory and the request logic, independent of sockets
# --------------------------------------------------------------------------------------------


class SiteContent:
    """Loaded site files plus the logic that turns a request into a ``Response``."""

    def __init__(
        self, site_dir: Path, replay: Replay | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.files: dict[str, bytes] = {}
        for path in sorted(site_dir.rglob("*")):
            if path.is_file() and not any(p.startswith(".") for p in path.parts[-1:]):
                self.files["/" + path.relative_to(site_dir).as_posix()] = path.read_bytes()
        if not self.files:
            raise FileNotFoundError(f"no files in sample site directory {site_dir}")
        self.feeds: dict[str, SplitFeed] = {}
        for name, body in self.files.items():
            if name.startswith("/feeds/") and name.endswith((".xml", ".atom")):
                split = split_feed(body, charset_of(name, body))
                if split is not None:
                    self.feeds[name] = split
        newest = [f.modified[-1] for f in self.feeds.values()]
        self.site_modified: datetime | None = max(newest) if newest else None
        self.replay = replay
        self.clock = clock
        self.started = clock()
        self.base_url = ""

    def restart_clock(self) -> None:
        self.started = self.clock()

    def lookup(self, raw_path: str) -> tuple[str | None, str | None]:
        """Map a request target to a file name; returns (name, redirect_location)."""
        path = unquote(urlsplit(raw_path).path) or "/"
        if any(part == ".." for part in path.split("/")):
            return None, None
        if path.endswith("/"):
            path += "index.html"
        if path in self.files:
            return path, None
        if path + "/index.html" in self.files:
            return None, path + "/"
        return None, None

    def body_of(self, name: str) -> tuple[bytes, datetime | None]:
        """The file's body as served now (replay applied, placeholder substituted)."""
        body = self.files[name]
        modified = self.site_modified
        feed = self.feeds.get(name)
        if feed is not None:
            n = len(feed.items)
            if self.replay is not None:
                n = min(n, self.replay.released(self.clock() - self.started))
                body = feed.render(n, self.replay.window).encode(feed.encoding, errors="xmlcharrefreplace")
            modified = feed.modified[n - 1] if n else None
        if _is_text(name):
            enc = charset_of(name, body)
            body = body.replace(BASE_URL_PLACEHOLDER.encode(enc), self.base_url.encode(enc))
        return body, modified

    def respond(self, raw_path: str, headers: Mapping[str, str]) -> Response:
        """Answer a GET for ``raw_path``; ``headers`` are the request headers, names lower-cased."""
        name, redirect = self.lookup(raw_path)
        if redirect is not None:
            return Response(
                HTTPStatus.MOVED_PERMANENTLY,
                (("Location", self.base_url + redirect), ("Content-Length", "0")),
                b"",
            )
        if name is None:
            body = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>\n"
            return Response(
                HTTPStatus.NOT_FOUND,
                (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))),
                body,
            )
        body, modified = self.body_of(name)
        use_gzip = accepts_gzip(headers.get("accept-encoding", ""))
        tag = '"' + hashlib.sha256(body).hexdigest()[:32] + ('-gzip"' if use_gzip else '"')
        common: list[tuple[str, str]] = [("ETag", tag), ("Vary", "Accept-Encoding")]
        if modified is not None:
            common.append(("Last-Modified", format_datetime(modified.astimezone(UTC), usegmt=True)))
        if self._not_modified(headers, tag, modified):
            return Response(HTTPStatus.NOT_MODIFIED, tuple(common), b"")
        out = [("Content-Type", content_type(name, body)), *common]
        if use_gzip:
            body = gzip.compress(body, mtime=0)
            out.append(("Content-Encoding", "gzip"))
        out.append(("Content-Length", str(len(body))))
        return Response(HTTPStatus.OK, tuple(out), body)

    @staticmethod
    def _not_modified(headers: Mapping[str, str], tag: str, modified: datetime | None) -> bool:
        inm = headers.get("if-none-match")
        if inm is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
            return etag_matches(inm, tag)
        ims = headers.get("if-modified-since")
        since = parse_http_date(ims) if ims else None
        return since is not None and modified is not None and modified <= since


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


def _handler_for(content: SiteContent, verbose: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle's algorithm on, a keep-alive client's
        # delayed ACK held every body back ~40 ms (measured: 52 ms per page, 9 ms with this).
        disable_nagle_algorithm = True
        server_version = "newsbeam-samples/1"
        sys_version = ""

        def do_GET(self) -> None:
            self._serve(head=False)

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def _serve(self, head: bool) -> None:
            resp = content.respond(self.path, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(resp.status)
            for key, value in resp.headers:
                self.send_header(key, value)
            self.end_headers()
            if not head and resp.body:
                self.wfile.write(resp.body)

        def log_message(self, format: str, *args: object) -> None:
            if verbose:
                super().log_message(format, *args)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    verbose = False

    def handle_error(self, request: object, client_address: object) -> None:
        if self.verbose:  # clients dropping connections are normal; stay quiet by default
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class SampleSite:
    """The sample site served from a daemon thread; use as a context manager."""

    def __init__(
        self,
        site_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        replay: Replay | None = None,
        verbose: bool = False,
    ) -> None:
        self.site_dir = Path(site_dir) if site_dir is not None else SITE_DIR
        self.host, self.port, self.replay, self.verbose = host, port, replay, verbose
        self.content = SiteContent(self.site_dir, replay)
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SampleSite is not started")
        return self.content.base_url

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def feed_paths(self) -> list[str]:
        """Feed paths from manifest.json (well-formed and malformed), else every /feeds/ file."""
        manifest = self.site_dir / "manifest.json"
        if manifest.is_file():
            data = json.loads(manifest.read_text(encoding="utf-8"))
            paths = [f["path"] for p in data["publishers"] for f in p["feeds"]]
            return paths + list(data.get("malformed_feeds", []))
        return [n for n in self.content.files if n.startswith("/feeds/")]

    def start(self) -> SampleSite:
        if self._server is not None:
            return self
        server = _QuietServer((self.host, self.port), _handler_for(self.content, self.verbose))
        server.verbose = self.verbose
        host, port = server.server_address[:2]
        self.content.base_url = f"http://{host!s}:{port}"
        self.content.restart_clock()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="sample-site", kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> SampleSite:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m samples.server", description="Serve the newsbeam sample news site locally."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--site-dir", type=Path, default=None, help="default: the bundled site")
    parser.add_argument(
        "--replay-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="release one more item per feed every SECONDS (streaming demo)",
    )
    parser.add_argument(
        "--replay-initial",
        type=int,
        default=0,
        metavar="N",
        help="items per feed released at start in replay mode (default 0)",
    )
    parser.add_argument(
        "--replay-window",
        type=int,
        default=None,
        metavar="N",
        help="in replay mode, each feed lists only its N newest released items (default: all)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    replay = (
        Replay(args.replay_initial, args.replay_every, args.replay_window)
        if args.replay_every is not None
        else None
    )
    site = SampleSite(args.site_dir, args.host, args.port, replay, args.verbose)
    with site:
        print(f"Serving sample site at {site.base_url}", flush=True)
        for path in site.feed_paths:
            print(f"  {site.url(path)}", flush=True)
        if replay is not None:
            print(
                f"Replay: {replay.initial} item(s) per feed now, one more every {replay.every_s:g}s",
                flush=True,
            )
        print("Press Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
