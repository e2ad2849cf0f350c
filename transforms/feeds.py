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
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import apache_beam as beam
import feedparser
from apache_beam.coders import PickleCoder
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from transforms import metrics
from transforms.http import HttpError, HttpSettings, get_with_retries, new_session
from transforms.records import Failure, FeedEntry, FeedSpec, language_code
from transforms.urls import InvalidUrl, normalize_url
from transforms.worker import fast_state_sizing

FAILURES = "failures"
STAGE = "feed"
# Feed-level failures (the feed as a whole); any other error type is about one entry.
FEED_ERRORS = ("malformed_feed", "not_a_feed", "xml_entities", "parser_error")
JSON_FEED_VERSION = "https://jsonfeed.org/version/"
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


# "GMT+5", "UTC-03:30": a zone written as an offset from GMT/UTC (feedparser drops or ignores it).
_GMT_OFFSET = re.compile(r"\s*(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\s*$", re.IGNORECASE)
# A numeric offset at the end of a date: real ones are within -12:00 .. +14:00.
_NUMERIC_OFFSET = re.compile(r"(?<=\d)\s*([+-])(\d{2}):?(\d{2})\s*$")
_MAX_OFFSET = timedelta(hours=14)


def _offset(sign: str, hours: str, minutes: str | None) -> timedelta:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return -delta if sign == "-" else delta


def feed_datetime(raw: str | None, parsed: time.struct_time | None = None) -> datetime | None:
    """A feed date (RFC 822 or ISO 8601, as parsed by feedparser into ``parsed``) in UTC.

    Fixes what feedparser gets wrong: a ``GMT+5``-style zone (read as the offset it names,
    not the inverted POSIX sense) and impossible numeric offsets (beyond +-14:00: no date).
    Implausible years are left to the extract stage, which knows the current time.
    """
    if raw:
        match = _GMT_OFFSET.search(raw)
        if match:
            offset = _offset(*match.groups())
            if abs(offset) > _MAX_OFFSET:
                return None
            try:
                naive = parsedate_to_datetime(raw[: match.start()] + " +0000")
                return (naive.replace(tzinfo=timezone(offset))).astimezone(UTC)
            except (TypeError, ValueError, IndexError):
                return None
        match = _NUMERIC_OFFSET.search(raw)
        if match and (abs(_offset(*match.groups())) > _MAX_OFFSET or int(match.group(3)) >= 60):
            return None
    return _struct_to_datetime(parsed)


def _iso_datetime(value: object) -> datetime | None:
    """An RFC 3339 date of a JSON Feed (naive ones taken as UTC), else a looser parse."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if abs(parsed.utcoffset() or timedelta()) > _MAX_OFFSET:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


# An XML DOCTYPE that declares entities is refused outright: expat's amplification limit
# stops the strict parse, but feedparser's fallback (loose) parser would then expand the
# "safe" entities without a limit (190 KB of feed -> 3 GB of title), and external entities
# (XXE) have no business in a feed.  Checked in every encoding feedparser reads whose
# ASCII range is not ASCII (UTF-16/32, EBCDIC).  Deliberately coarse: a DOCTYPE anywhere
# followed by an ENTITY anywhere, so that no parser's idea of "the prolog" can be
# fooled; a feed quoting both in a CDATA section is refused too (rare, and safe).
_ENTITY_MARKERS = tuple(
    (b"<!DOCTYPE".decode().encode(codec), b"<!ENTITY".decode().encode(codec))
    for codec in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037")
)


def declares_entities(body: bytes) -> bool:
    """True when ``body`` has a DOCTYPE followed by an ENTITY declaration (in any encoding)."""
    for doctype, entity in _ENTITY_MARKERS:
        start = body.find(doctype)
        if start >= 0 and body.find(entity, start) >= 0:
            return True
    return False


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"{":
        return True
    return start != b"<" and "json" in (content_type or "").lower()


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _json_authors(item: dict[str, Any], feed: dict[str, Any]) -> tuple[str, ...]:
    for holder in (item, feed):
        authors = holder.get("authors")
        if not isinstance(authors, list):
            single = holder.get("author")  # JSON Feed 1.0
            authors = [single] if isinstance(single, dict) else []
        names = tuple(name for a in authors if isinstance(a, dict) and (name := _text(a.get("name"))))
        if names:
            return names
    return ()


def parse_json_feed(body: bytes, spec: FeedSpec, seen_at: datetime) -> ParsedFeed:
    """Parse a JSON Feed (1.0 or 1.1, https://jsonfeed.org/version/1.1) into entries."""

    def failure(error_type: str, message: str, url: str | None = spec.url) -> Failure:
        return Failure(STAGE, url, spec.url, error_type, message, seen_at)

    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, bad UTF-8, too deep
        return ParsedFeed([], [failure("malformed_feed", f"invalid JSON: {type(err).__name__}: {err}")])
    version = data.get("version") if isinstance(data, dict) else None
    items = data.get("items") if isinstance(data, dict) else None
    if (
        not isinstance(version, str)
        or not version.startswith(JSON_FEED_VERSION)
        or not isinstance(items, list)
    ):
        return ParsedFeed([], [failure("not_a_feed", "JSON without a JSON Feed version and items")])
    feed_language = language_code(_text(data.get("language"))) or spec.language
    entries: list[FeedEntry] = []
    failures: list[Failure] = []
    for item in items:
        if not isinstance(item, dict):
            failures.append(failure("invalid_entry", f"JSON Feed item is a {type(item).__name__}", None))
            continue
        link = _text(item.get("url")) or _text(item.get("external_url")) or ""
        try:
            url = normalize_url(urljoin(spec.url, link)) if link else normalize_url(link)
        except InvalidUrl as err:
            failures.append(failure("invalid_link", str(err), link or None))
            continue
        raw_id = item.get("id")
        raw_tags = item.get("tags")
        tags = raw_tags if isinstance(raw_tags, list) else []
        entries.append(
            FeedEntry(
                link=link,
                url=url,
                feed_url=spec.url,
                publisher=spec.publisher,
                first_seen_at=seen_at,
                entry_id=str(raw_id) if isinstance(raw_id, str | int) and str(raw_id) else link,
                title=_text(item.get("title")),
                description=_text(item.get("summary"))
                or _text(item.get("content_text"))
                or _text(item.get("content_html")),
                published_at=_iso_datetime(item.get("date_published"))
                or _iso_datetime(item.get("date_modified")),
                authors=_json_authors(item, data),
                tags=tuple(tag for t in tags if (tag := _text(t))),
                language=language_code(_text(item.get("language"))) or feed_language,
            )
        )
    return ParsedFeed(entries, failures)


def parse_feed(body: bytes, spec: FeedSpec, seen_at: datetime, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes (RSS, Atom, RDF or JSON Feed) into entries; a feed that cannot be
    read gives a ``Failure``, never an exception.

    Pure: no network (feedparser is given bytes, never a URL).  Relative links are
    resolved against the feed URL.  Entries without a usable link become failures of
    their own, so nothing is dropped silently.
    """
    try:
        if not body.strip():
            return ParsedFeed([], [Failure(STAGE, spec.url, spec.url, "not_a_feed", "empty body", seen_at)])
        if _looks_like_json(body, content_type):
            return parse_json_feed(body, spec, seen_at)
        if declares_entities(body):
            message = "the DOCTYPE declares entities (entity expansion and external entities are refused)"
            return ParsedFeed([], [Failure(STAGE, spec.url, spec.url, "xml_entities", message, seen_at)])
        return _parse_xml_feed(body, spec, seen_at, content_type)
    except Exception as err:  # a parser bug must not lose the feed: it becomes a failure row
        message = f"{type(err).__name__}: {err}"
        return ParsedFeed([], [Failure(STAGE, spec.url, spec.url, "parser_error", message, seen_at)])


def _parse_xml_feed(body: bytes, spec: FeedSpec, seen_at: datetime, content_type: str | None) -> ParsedFeed:
    stripped = body.lstrip(b" \t\r\n")
    if stripped.startswith(b"<"):
        body = stripped  # whitespace before the XML declaration, common and harmless
    headers = {"content-type": content_type} if content_type else {}
    parsed: Any = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    failures: list[Failure] = []
    error = parsed.get("bozo_exception")
    if parsed.bozo and not isinstance(error, _HARMLESS_BOZO):
        # Broken XML: report it, and keep whatever entries the lenient parser recovered.
        message = f"{type(error).__name__}: {error}" if error else "unparseable feed"
        failures.append(Failure(STAGE, spec.url, spec.url, "malformed_feed", message, seen_at))
    elif not parsed.entries and not parsed.get("version"):
        failures.append(Failure(STAGE, spec.url, spec.url, "not_a_feed", "no feed found", seen_at))
    feed_language = language_code(parsed.feed.get("language")) or spec.language
    entries: list[FeedEntry] = []
    for item in parsed.entries:
        link = item.get("link") or ""
        try:
            # a relative link (xml:base is applied by feedparser) is relative to the feed URL
            url = normalize_url(urljoin(spec.url, link) if link else link)
        except InvalidUrl as err:
            failures.append(Failure(STAGE, link or None, spec.url, "invalid_link", str(err), seen_at))
            continue
        authors = tuple(a["name"] for a in item.get("authors", []) if a.get("name"))
        tags = tuple(t["term"] for t in item.get("tags", []) if t.get("term"))
        published = feed_datetime(item.get("published"), item.get("published_parsed")) or feed_datetime(
            item.get("updated"), item.get("updated_parsed")
        )
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


@dataclass(frozen=True)
class PollSettings:
    """Bounds of each feed's adaptive polling interval (the config's ``polling`` section)."""

    min_interval_s: float = 60.0
    max_interval_s: float = 3600.0
    faster: float = 0.5  # a poll that found new entries
    slower: float = 1.5  # a poll that found nothing new
    backoff: float = 2.0  # a poll that failed

    def clamp(self, interval_s: float) -> float:
        return min(self.max_interval_s, max(self.min_interval_s, interval_s))

    def around(self, configured_s: float) -> PollSettings:
        """The bounds for a feed configured at ``configured_s``: widened to include it."""
        return replace(
            self,
            min_interval_s=min(self.min_interval_s, configured_s),
            max_interval_s=max(self.max_interval_s, configured_s),
        )


def next_interval(interval_s: float, outcome: str, settings: PollSettings) -> float:
    """The wait before a feed's next poll, after a poll with ``outcome``.

    ``new`` (it listed entries not seen before) halves the wait, ``unchanged`` (304, same
    bytes or nothing new) stretches it by half, ``error`` doubles it; always within the bounds.
    """
    factor = {"new": settings.faster, "unchanged": settings.slower, "error": settings.backoff}[outcome]
    return settings.clamp(interval_s * factor)


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
    interval_s: float | None = None  # adaptive; starts at the feed's configured interval


class _PollFeedFn(beam.DoFn):
    """Keyed by feed URL: one conditional GET per due feed, new entries out.

    Each feed keeps its own adaptive interval in state (``next_interval``).  A feed dropped from
    the config leaves its state behind; the idle timer frees it once nothing has touched it for
    ``seen_ttl_s`` — and checks the stored poll time first, since some runners fire
    processing-time timers early.
    """

    STATE = ReadModifyWriteStateSpec("feed", PickleCoder())
    # Event time (the ticks' timestamps): a processing-time timer a month ahead would keep a
    # bounded run from ending on runners that wait for pending timers (Prism does).
    IDLE = TimerSpec("idle", TimeDomain.WATERMARK)

    def __init__(self, settings: HttpSettings, poll: PollSettings, seen_ttl_s: float, max_seen: int) -> None:
        self._settings = settings
        self._poll = poll
        self._seen_ttl_s = seen_ttl_s
        self._max_seen = max_seen

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._session = new_session(self._settings)
        self._polled = metrics.counter("feeds_polled")
        self._not_modified = metrics.counter("feeds_not_modified")
        self._failed = metrics.counter("feed_failures")
        self._entries = metrics.counter("entries")
        self._repeats = metrics.counter("entries_already_seen")
        self._invalid = metrics.counter("invalid_entries")
        self._intervals = metrics.distribution("feed_interval_s")

    def teardown(self) -> None:
        self._session.close()

    def process(
        self,
        element: tuple[str, FeedSpec],
        state: Any = beam.DoFn.StateParam(STATE),
        idle: Any = beam.DoFn.TimerParam(IDLE),
        tick_time: Any = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        _, spec = element
        current: _FeedState = state.read() or _FeedState()
        now = time.time()
        bounds = self._poll.around(spec.poll_interval_s)
        interval = current.interval_s or spec.poll_interval_s
        if current.last_poll is not None and now - current.last_poll < interval * 0.9:
            return
        current.last_poll = now
        idle.set(float(tick_time) + self._seen_ttl_s)
        new = failed = False
        try:
            for output in self._poll_once(spec, current, now, float(tick_time)):
                if isinstance(output, TimestampedValue):
                    new = True
                elif output.value.url == spec.url:  # the feed itself failed, not one entry
                    failed = True
                yield output
        finally:
            outcome = "new" if new else "error" if failed else "unchanged"
            current.interval_s = next_interval(interval, outcome, bounds)
            self._intervals.update(int(current.interval_s))
            state.write(current)

    def _poll_once(self, spec: FeedSpec, current: _FeedState, now: float, tick: float) -> Iterator[Any]:
        """One poll at wall-clock ``now`` for the tick scheduled at ``tick``: new entries are first
        seen at the tick (their element timestamp too), so the entries of one tick share a time and
        their order does not depend on which feed a worker polled first."""
        seen_at = datetime.fromtimestamp(tick, tz=UTC)
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
            yield beam.pvalue.TaggedOutput(
                FAILURES,
                Failure(STAGE, spec.url, spec.url, err.error_type, str(err), seen_at, err.attempts),
            )
            return
        body_hash = hashlib.sha256(response.body).hexdigest()
        if response.status == 304 or body_hash == current.body_hash:
            self._not_modified.inc()
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
            yield TimestampedValue(entry, tick)
        current.seen = seen

    @on_timer(IDLE)
    def _free_idle(self, state: Any = beam.DoFn.StateParam(STATE)) -> None:
        current: _FeedState | None = state.read()
        if current is not None and time.time() - (current.last_poll or 0.0) >= self._seen_ttl_s:
            state.clear()


FeedList = Callable[[], Sequence[FeedSpec]]


class _FanOutFn(beam.DoFn):
    """Each tick: every feed of the current list, keyed by URL.

    With ``reload``, the list is read again on every tick (e.g. from the job config), so feeds
    added to or removed from the config take effect without restarting a streaming job.  A
    list that cannot be read, or is empty, is counted and the last good one is kept.
    """

    def __init__(self, feeds: Sequence[FeedSpec], reload: FeedList | None) -> None:
        self._feeds = tuple(feeds)
        self._reload = reload

    def setup(self) -> None:
        self._current = self._feeds  # the last good list, per worker
        self._changed = metrics.counter("feed_list_changed")
        self._reload_failed = metrics.counter("feed_list_reload_failed")

    def process(self, _tick: object) -> Iterator[tuple[str, FeedSpec]]:
        if self._reload is not None:
            try:
                fresh = tuple(self._reload())
                if not fresh:
                    raise ValueError("the reloaded feed list is empty")
            except Exception as err:
                self._reload_failed.inc()
                logging.getLogger(__name__).warning("feed list not reloaded, keeping the last: %s", err)
            else:
                if fresh != self._current:
                    self._changed.inc()
                    self._current = fresh
        for spec in self._current:
            yield spec.url, spec


class PollFeeds(beam.PTransform):
    """Poll ``feeds`` on a ``PeriodicImpulse``; main output ``FeedEntry``, tag ``failures``.

    ``duration_s=None`` polls once (the degenerate one-impulse case); ``math.inf`` polls until
    the job is stopped.  Ticks come every ``min_interval_s`` (or the shortest configured feed
    interval, if shorter); each feed is polled when its own adaptive interval has passed.
    """

    def __init__(
        self,
        feeds: Sequence[FeedSpec],
        settings: HttpSettings,
        *,
        duration_s: float | None = None,
        poll: PollSettings | None = None,
        reload: FeedList | None = None,
        seen_ttl_s: float = 30 * 86400,
        max_seen_per_feed: int = 5000,
    ) -> None:
        super().__init__()
        if not feeds:
            raise ValueError("PollFeeds needs at least one feed")
        self._feeds = tuple(feeds)
        self._settings = settings
        self._duration_s = duration_s
        self._poll = poll or PollSettings()
        self._reload = reload
        self._seen_ttl_s = seen_ttl_s
        self._max_seen = max_seen_per_feed

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        interval = min(self._poll.min_interval_s, *(spec.poll_interval_s for spec in self._feeds))
        start = time.time()
        if self._duration_s is None:
            stop: float | Timestamp = start + interval / 2  # [start, start + interval/2): one impulse
        elif math.isinf(self._duration_s):
            stop = MAX_TIMESTAMP
        else:
            stop = start + self._duration_s
        poll = _PollFeedFn(self._settings, self._poll, self._seen_ttl_s, self._max_seen)
        return (
            pbegin
            | "Tick" >> PeriodicImpulse(start_timestamp=start, stop_timestamp=stop, fire_interval=interval)
            | "Fan out to feeds"
            >> beam.ParDo(_FanOutFn(self._feeds, self._reload)).with_output_types(tuple[str, FeedSpec])
            | "Poll feed" >> beam.ParDo(poll).with_outputs(FAILURES, main="entries")
        )


class _ReplayFn(beam.DoFn):
    def setup(self) -> None:
        self._entries = metrics.counter("entries")
        self._replayed = metrics.counter("entries_replayed")

    def process(self, entry: FeedEntry) -> Iterator[TimestampedValue]:
        self._entries.inc()
        self._replayed.inc()
        yield TimestampedValue(entry, entry.first_seen_at.timestamp())


class ReplayEntries(beam.PTransform):
    """Entries given up front (``newsbeam failures replay``), counted and timed like polled ones."""

    def __init__(self, entries: Sequence[FeedEntry]) -> None:
        super().__init__()
        self._entries = list(entries)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            pbegin
            | "Failed entries" >> beam.Create(self._entries)
            | "Count and time entries" >> beam.ParDo(_ReplayFn())
        )
