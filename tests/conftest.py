"""Shared fixtures: a scripted HTTP server on 127.0.0.1 (tests never touch the internet)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[BaseHTTPRequestHandler], Reply]


class ScriptedServer:
    """Serves ``routes[path]`` (a ``Reply`` or a callable giving one); 404 otherwise."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                route = server.routes.get(self.path.split("?", 1)[0])
                reply = Reply(404, b"not found") if route is None else route
                if callable(reply):
                    reply = reply(self)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def _shared_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:  # one per run: each shutdown costs 0.5 s
        yield server


@pytest.fixture
def http_server(_shared_server: ScriptedServer) -> ScriptedServer:
    """The scripted server, with no routes and no requests recorded."""
    _shared_server.routes.clear()
    _shared_server.requests.clear()
    return _shared_server


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


class MemoryTimer:
    """Stands in for a Beam timer when a DoFn is called directly: records what was set."""

    def __init__(self) -> None:
        self.fire_at: list[float] = []

    def set(self, timestamp: float) -> None:
        self.fire_at.append(float(timestamp))

    def clear(self) -> None:
        self.fire_at.clear()


class MemoryState:
    """Stands in for a Beam ``ReadModifyWriteState`` when a DoFn is called directly."""

    def __init__(self) -> None:
        self.value: Any = None

    def read(self) -> Any:
        return self.value

    def write(self, value: Any) -> None:
        self.value = value

    def clear(self) -> None:
        self.value = None
