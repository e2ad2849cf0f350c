"""Stage 1, ``PollFeeds``: poll every configured feed and emit the entries not seen before.

A ``PeriodicImpulse`` drives the polling (``--once`` is one impulse).  Each impulse fans
out to every feed; per feed (the key) the state remembers the validators for conditional
GET, a hash of the last body (some servers ignore conditional requests), when it was last
polled (each feed has its own interval) and the entry ids already emitted, each with the
time it was seen so that expired ones are pruned in ``process``.
"""

from __future__ import annotations

import calendar
import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import feedparser
from apache_beam.coders import PickleCoder
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import TimestampedValue

from transforms import metrics
from transforms.http import HttpError, HttpSettings, get_with_retries, new_session
from transforms.records import Failure, FeedEntry, FeedSpec, language_code
from transforms.urls import InvalidUrl, normalize_url

FAILURES = "failures"
STAGE = "feed"
FEED_ERRORS = ("malformed_feed", "not_a_feed")
# Problems feedparser works around without losing anything.
_HARMLESS_BOZO = (
    feedparser.CharacterEncodingOverride,
    feedparser.CharacterEncodingUnknown,
    feedparser.NonXMLContentType,
)


@dataclass(frozen=True)
class ParsedFeed:
    entries: list[FeedEntry]
    failures: list[Failure]


def _struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError):
        return None


def parse_feed(body: bytes, spec: FeedSpec, seen_at: datetime, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes into entries; a feed that cannot be read gives a ``Failure``.

    Pure: no network (feedparser is given bytes, never a URL).  Entries without a usable
    link become failures of their own, so nothing is dropped silently.
    """
    headers = {"content-type": content_type} if content_type else {}
    parsed: Any = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    failures: list[Failure] = []
    error = parsed.get("bozo_exception")
    if parsed.bozo and not isinstance(error, _HARMLESS_BOZO):
        # Broken XML: report it, and keep whatever entries the lenient parser recovered.
        message = f"{type(error).__name__}: {error}" if error else "unparseable feed"
        failures.append(Failure(STAGE, spec.url, spec.url, "malformed_feed", message, seen_at))
    elif not parsed.entries and not parsed.version:
        failures.append(Failure(STAGE, spec.url, spec.url, "not_a_feed", "no feed found", seen_at))
    feed_language = language_code(parsed.feed.get("language")) or spec.language
    entries: list[FeedEntry] = []
    for item in parsed.entries:
        link = item.get("link") or ""
        try:
            url = normalize_url(link)
        except InvalidUrl as err:
            failures.append(Failure(STAGE, link or None, spec.url, "invalid_link", str(err), seen_at))
            continue
        authors = tuple(a["name"] for a in item.get("authors", []) if a.get("name"))
        tags = tuple(t["term"] for t in item.get("tags", []) if t.get("term"))
        published = _struct_to_datetime(item.get("published_parsed") or item.get("updated_parsed"))
        entries.append(
            FeedEntry(
                link=link,
                url=url,
                feed_url=spec.url,
                publisher=spec.publisher,
                first_seen_at=seen_at,
                entry_id=item.get("id") or link,
                title=item.get("title") or None,
                description=item.get("summary") or None,
                published_at=published,
                authors=authors,
                tags=tags,
                language=language_code(item.get("language")) or feed_language,
            )
        )
    return ParsedFeed(entries, failures)


def prune_seen(seen: dict[str, float], now: float, ttl_s: float, max_entries: int) -> dict[str, float]:
    """Seen entry ids younger than ``ttl_s``, at most the ``max_entries`` newest."""
    fresh = {key: at for key, at in seen.items() if now - at < ttl_s}
    if len(fresh) > max_entries:
        newest = sorted(fresh.items(), key=lambda item: item[1], reverse=True)[:max_entries]
        fresh = dict(newest)
    return fresh


@dataclass
class _FeedState:
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_poll: float | None = None
    seen: dict[str, float] | None = None


class _PollFeedFn(beam.DoFn):
    """Keyed by feed URL: one conditional GET per due feed, new entries out."""

    STATE = ReadModifyWriteStateSpec("feed", PickleCoder())

    def __init__(self, settings: HttpSettings, seen_ttl_s: float, max_seen: int) -> None:
        self._settings = settings
        self._seen_ttl_s = seen_ttl_s
        self._max_seen = max_seen

    def setup(self) -> None:
        self._session = new_session(self._settings)
        self._polled = metrics.counter("feeds_polled")
        self._not_modified = metrics.counter("feeds_not_modified")
        self._failed = metrics.counter("feed_failures")
        self._entries = metrics.counter("entries")
        self._repeats = metrics.counter("entries_already_seen")
        self._invalid = metrics.counter("invalid_entries")

    def teardown(self) -> None:
        self._session.close()

    def process(
        self, element: tuple[str, FeedSpec], state: Any = beam.DoFn.StateParam(STATE)
    ) -> Iterator[Any]:
        _, spec = element
        current: _FeedState = state.read() or _FeedState()
        now = time.time()
        if current.last_poll is not None and now - current.last_poll < spec.poll_interval_s * 0.9:
            return
        current.last_poll = now
        seen_at = datetime.fromtimestamp(now, tz=UTC)
        headers = {}
        if current.etag:
            headers["If-None-Match"] = current.etag
        if current.last_modified:
            headers["If-Modified-Since"] = current.last_modified
        self._polled.inc()
        try:
            response, _ = get_with_retries(self._session, spec.url, self._settings, headers)
        except HttpError as err:
            self._failed.inc()
            state.write(current)
            yield beam.pvalue.TaggedOutput(
                FAILURES,
                Failure(STAGE, spec.url, spec.url, err.error_type, str(err), seen_at, err.attempts),
            )
            return
        body_hash = hashlib.sha256(response.body).hexdigest()
        if response.status == 304 or body_hash == current.body_hash:
            self._not_modified.inc()
            state.write(current)
            return
        current.etag = response.headers.get("etag")
        current.last_modified = response.headers.get("last-modified")
        current.body_hash = body_hash
        parsed = parse_feed(response.body, spec, seen_at, response.content_type)
        seen = prune_seen(current.seen or {}, now, self._seen_ttl_s, self._max_seen)
        for failure in parsed.failures:
            if failure.error_type in FEED_ERRORS:
                self._failed.inc()
            else:  # an entry that cannot be followed: it counts as seen, and as failed
                self._entries.inc()
                self._invalid.inc()
            yield beam.pvalue.TaggedOutput(FAILURES, failure)
        for entry in parsed.entries:
            key = entry.entry_id or entry.url
            if key in seen:
                self._repeats.inc()
                continue
            seen[key] = now
            self._entries.inc()
            yield TimestampedValue(entry, now)
        current.seen = seen
        state.write(current)


def _fan_out(_: object, feeds: Sequence[FeedSpec]) -> Iterable[tuple[str, FeedSpec]]:
    return ((spec.url, spec) for spec in feeds)


class PollFeeds(beam.PTransform):
    """Poll ``feeds`` on a ``PeriodicImpulse``; main output ``FeedEntry``, tag ``failures``.

    ``duration_s=None`` polls once (the degenerate one-impulse case).
    """

    def __init__(
        self,
        feeds: Sequence[FeedSpec],
        settings: HttpSettings,
        *,
        duration_s: float | None = None,
        seen_ttl_s: float = 30 * 86400,
        max_seen_per_feed: int = 5000,
    ) -> None:
        super().__init__()
        if not feeds:
            raise ValueError("PollFeeds needs at least one feed")
        self._feeds = tuple(feeds)
        self._settings = settings
        self._duration_s = duration_s
        self._seen_ttl_s = seen_ttl_s
        self._max_seen = max_seen_per_feed

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        interval = min(spec.poll_interval_s for spec in self._feeds)
        start = time.time()
        # --once: the range [start, start + interval/2) holds exactly one impulse.
        stop = start + (self._duration_s if self._duration_s is not None else interval / 2)
        return (
            pbegin
            | "Tick" >> PeriodicImpulse(start_timestamp=start, stop_timestamp=stop, fire_interval=interval)
            | "Fan out to feeds"
            >> beam.FlatMap(_fan_out, self._feeds).with_output_types(tuple[str, FeedSpec])
            | "Poll feed"
            >> beam.ParDo(_PollFeedFn(self._settings, self._seen_ttl_s, self._max_seen)).with_outputs(
                FAILURES, main="entries"
            )
        )
