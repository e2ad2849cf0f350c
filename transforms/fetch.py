"""Stage 2, ``FetchPages``: download each entry's page, politely.

Entries are keyed by host; per host the state keeps the robots.txt (with when it was
fetched) and the time of the last request, so that requests to one host are spaced by the
larger of the configured minimum delay and the site's ``Crawl-delay``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from protego import Protego

from transforms import metrics
from transforms.http import HttpError, HttpSettings, get_with_retries, http_get, new_session
from transforms.records import Failure, FeedEntry, FetchedPage
from transforms.urls import host_of
from transforms.worker import fast_state_sizing

FAILURES = "failures"
STAGE = "fetch"
HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class FetchSettings:
    http: HttpSettings
    min_host_delay_s: float = 1.0
    max_crawl_delay_s: float = 30.0
    respect_robots: bool = True
    robots_ttl_s: float = 86400.0


@dataclass
class _HostState:
    robots: str | None = None  # robots.txt body; "" = allow everything
    robots_fetched_at: float | None = None
    last_request_at: float | None = None


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def parse_robots(body: str) -> Protego:
    return Protego.parse(body)


def robots_body_for(status_or_error: int | HttpError, body: bytes) -> str | None:
    """What to remember of a robots.txt response (RFC 9309 §2.3.1).

    2xx: its body; 4xx (not found, forbidden): "" (everything allowed); anything else
    (5xx, unreachable): None, i.e. do not fetch from that host now.
    """
    if isinstance(status_or_error, HttpError):
        if status_or_error.error_type.startswith("http_4") and status_or_error.error_type != "http_429":
            return ""
        return None
    return body.decode("utf-8", errors="replace")


def politeness_wait(last_request_at: float | None, now: float, delay_s: float) -> float:
    """Seconds to wait before the next request to a host."""
    if last_request_at is None:
        return 0.0
    return max(0.0, last_request_at + delay_s - now)


class _FetchFn(beam.DoFn):
    HOST = ReadModifyWriteStateSpec("host", PickleCoder())

    def __init__(self, settings: FetchSettings, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._session = new_session(self._settings.http)
        self._robots_http = dataclasses.replace(self._settings.http, allowed_content_types=())
        self._fetched = metrics.counter("fetched")
        self._failed = metrics.counter("fetch_failures")
        self._bytes = metrics.distribution("fetched_bytes")

    def teardown(self) -> None:
        self._session.close()

    def _robots(self, url: str, host: _HostState) -> Protego | None:
        now = self._clock()
        fresh = (
            host.robots_fetched_at is not None
            and now - host.robots_fetched_at < self._settings.robots_ttl_s
            and host.robots is not None
        )
        if not fresh:
            try:
                response = http_get(self._session, robots_url(url), self._robots_http)
                host.robots = robots_body_for(response.status, response.body)
            except HttpError as err:
                if err.error_type in ("blocked_address", "invalid_url") and err.url == robots_url(url):
                    raise  # the host itself may not be fetched: say so, not "robots unavailable"
                host.robots = robots_body_for(err, b"")
            host.robots_fetched_at = now
            host.last_request_at = self._clock()
        return None if host.robots is None else parse_robots(host.robots)

    def process(
        self, element: tuple[str, FeedEntry], state: Any = beam.DoFn.StateParam(HOST)
    ) -> Iterator[Any]:
        _, entry = element
        host: _HostState = state.read() or _HostState()
        settings = self._settings
        now = datetime.now(UTC)
        delay = settings.min_host_delay_s
        try:
            if settings.respect_robots:
                robots = self._robots(entry.url, host)
                if robots is None:
                    raise HttpError("robots_unavailable", "robots.txt could not be fetched", transient=True)
                if not robots.can_fetch(entry.url, settings.http.user_agent):
                    raise HttpError("robots_disallowed", "disallowed by robots.txt")
                crawl_delay = robots.crawl_delay(settings.http.user_agent)
                if crawl_delay:
                    delay = max(delay, min(float(crawl_delay), settings.max_crawl_delay_s))
            wait = politeness_wait(host.last_request_at, self._clock(), delay)
            if wait:
                time.sleep(wait)
            try:
                response, _ = get_with_retries(self._session, entry.url, settings.http)
            finally:
                host.last_request_at = self._clock()
        except HttpError as err:
            state.write(host)
            self._failed.inc()
            failure = Failure(STAGE, entry.url, entry.feed_url, err.error_type, str(err), now, err.attempts)
            yield beam.pvalue.TaggedOutput(FAILURES, failure)
            return
        state.write(host)
        self._fetched.inc()
        self._bytes.update(len(response.body))
        yield FetchedPage(
            entry=entry,
            final_url=response.url,
            body=response.body,
            content_type=response.content_type,
            status=response.status,
            fetched_at=now,
        )


class FetchPages(beam.PTransform):
    """``FeedEntry`` in, ``FetchedPage`` out; tag ``failures`` for what could not be fetched."""

    def __init__(self, settings: FetchSettings) -> None:
        super().__init__()
        http = dataclasses.replace(settings.http, allowed_content_types=HTML_CONTENT_TYPES)
        self._settings = dataclasses.replace(settings, http=http)

    def expand(self, entries: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            entries
            | "Key by host"
            >> beam.Map(lambda entry: (host_of(entry.url), entry)).with_output_types(tuple[str, Any])
            | "Fetch politely" >> beam.ParDo(_FetchFn(self._settings)).with_outputs(FAILURES, main="pages")
        )
