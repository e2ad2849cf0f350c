"""Adaptive feed polling and feed-list reloading, with the DoFns called directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_beam.transforms.window import TimestampedValue

import transforms.feeds
from pipelines.config import ConfigError, ConfigFeeds, parse_config
from tests.conftest import MemoryState, MemoryTimer, Reply, ScriptedServer
from transforms.feeds import PollSettings, _FanOutFn, _PollFeedFn, next_interval
from transforms.http import HttpSettings
from transforms.records import FeedSpec

BOUNDS = PollSettings(min_interval_s=10, max_interval_s=400)
HTTP = HttpSettings(allow_private_addresses=True, timeout_s=2, retries=0, backoff_s=0)


def rss(*links: str) -> bytes:
    items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()
    )


@pytest.mark.parametrize(
    ("interval", "outcome", "expected"),
    [
        (100, "new", 50),
        (100, "unchanged", 150),
        (100, "error", 200),
        (15, "new", 10),  # not below the minimum
        (300, "unchanged", 400),  # not above the maximum
        (300, "error", 400),
    ],
)
def test_next_interval(interval: float, outcome: str, expected: float) -> None:
    assert next_interval(interval, outcome, BOUNDS) == expected


def test_each_feed_adapts_its_own_interval(
    http_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(transforms.feeds.time, "time", lambda: clock[0])
    spec = FeedSpec(http_server.url("/feed.xml"), "P", poll_interval_s=100)
    fn = _PollFeedFn(HTTP, BOUNDS, seen_ttl_s=86400, max_seen=100)
    fn.setup()
    state, idle = MemoryState(), MemoryTimer()

    def poll() -> list[object]:
        return list(fn.process((spec.url, spec), state=state, idle=idle, tick_time=clock[0]))

    http_server.routes["/feed.xml"] = Reply(
        200, rss("https://ex.org/1"), {"Content-Type": "application/rss+xml"}
    )
    assert sum(isinstance(o, TimestampedValue) for o in poll()) == 1
    assert state.value.interval_s == 50  # new entries: poll sooner
    clock[0] += 30
    assert poll() == [] and len(http_server.requests) == 1  # not due yet: no request
    clock[0] += 20
    assert poll() == []  # same bytes
    assert state.value.interval_s == 75 and len(http_server.requests) == 2
    clock[0] += 75
    http_server.routes["/feed.xml"] = Reply(503, b"busy")
    (failure,) = poll()
    assert failure.value.error_type == "http_503"  # type: ignore[attr-defined]
    assert state.value.interval_s == 150  # errors back off
    assert idle.fire_at[-1] == clock[0] + 86400  # the idle timer follows the last poll


def test_idle_feed_state_is_freed_only_after_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(transforms.feeds.time, "time", lambda: clock[0])
    fn = _PollFeedFn(HTTP, BOUNDS, seen_ttl_s=3600, max_seen=100)
    state = MemoryState()
    state.write(transforms.feeds._FeedState(last_poll=clock[0] - 60))
    fn._free_idle(state=state)  # a timer firing early (as on some runners) changes nothing
    assert state.value is not None
    clock[0] += 3600
    fn._free_idle(state=state)
    assert state.value is None


def test_fan_out_reloads_the_feed_list_and_keeps_the_last_good_one() -> None:
    a, b = FeedSpec("https://a.example/feed", "A"), FeedSpec("https://b.example/feed", "B")
    lists: list[object] = [[a, b], RuntimeError("config unreadable"), [], [b]]

    def reload() -> list[FeedSpec]:
        current = lists.pop(0)
        if isinstance(current, Exception):
            raise current
        return current  # type: ignore[return-value]

    fn = _FanOutFn([a], reload)
    fn.setup()
    ticks = [[url for url, _ in fn.process(0)] for _ in range(4)]
    assert ticks == [[a.url, b.url], [a.url, b.url], [a.url, b.url], [b.url]]


def test_config_feeds_reads_the_file_each_time(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("feeds:\n  - {url: /a.xml, publisher: A}\n")
    feeds = ConfigFeeds(str(path), "http://127.0.0.1:9")
    assert [spec.url for spec in feeds()] == ["http://127.0.0.1:9/a.xml"]
    path.write_text("feeds:\n  - {url: /a.xml, publisher: A}\n  - {url: /b.xml, publisher: B}\n")
    assert [spec.url for spec in feeds()] == ["http://127.0.0.1:9/a.xml", "http://127.0.0.1:9/b.xml"]
    path.write_text("feeds: [")
    with pytest.raises(ConfigError):
        feeds()


def test_polling_bounds_are_checked() -> None:
    assert parse_config(
        {"polling": {"min_interval_s": 5, "max_interval_s": 50}}
    ).poll_settings() == PollSettings(5, 50)
    with pytest.raises(ConfigError, match="min_interval_s is larger"):
        parse_config({"polling": {"min_interval_s": 500, "max_interval_s": 50}})
    assert parse_config({"follow": True}).follow


def test_a_feed_configured_outside_the_bounds_keeps_its_interval_reachable() -> None:
    assert BOUNDS.around(5) == PollSettings(5, 400)
    assert BOUNDS.around(1000) == PollSettings(10, 1000)
    assert next_interval(5, "unchanged", BOUNDS.around(5)) == 7.5
