"""Links to internal addresses are refused (SSRF), also by name, after redirects and by
rebinding; only an explicit allowlist (or ``allow_private_addresses``) lets them through."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import pytest
import requests

from pipelines.config import ConfigError, parse_config
from tests.conftest import MemoryState, MemoryTimer, Reply, ScriptedServer
from transforms.feeds import PollSettings, _PollFeedFn
from transforms.fetch import FetchSettings, _FetchFn
from transforms.http import HttpError, HttpSettings, http_get
from transforms.records import FeedEntry, FeedSpec
from transforms.urls import resolve_host

DEFAULT = HttpSettings(timeout_s=0.5, retries=0)
INTERNAL = [
    "127.0.0.1",
    "127.1",
    "2130706433",  # 127.0.0.1 as one decimal number
    "0x7f000001",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "[::1]",
    "[::]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fe80::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254
]


def fake_dns(table: dict[str, list[str]]) -> Any:
    def resolve(host: str) -> Iterable[str]:
        return table[host] if host in table else resolve_host(host)

    return resolve


@pytest.mark.parametrize("host", INTERNAL)
def test_internal_addresses_are_refused_by_default(session: requests.Session, host: str) -> None:
    with pytest.raises(HttpError) as raised:
        http_get(session, f"http://{host}/latest/meta-data/", DEFAULT)
    assert (raised.value.error_type, raised.value.transient) == ("blocked_address", False)


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.7"], ["93.184.216.34", "10.0.0.7"], ["fd00::7"], ["::ffff:192.168.0.1"]],
    ids=["private", "mixed", "ula", "mapped"],
)
def test_names_resolving_to_internal_addresses_are_refused(
    session: requests.Session, addresses: list[str]
) -> None:
    with pytest.raises(HttpError) as raised:
        http_get(session, "http://news.example/a", DEFAULT, resolve=fake_dns({"news.example": addresses}))
    assert raised.value.error_type == "blocked_address"


def test_localhost_by_name_is_refused(http_server: ScriptedServer, session: requests.Session) -> None:
    http_server.routes["/a"] = Reply(200, b"internal")
    url = http_server.url("/a").replace("127.0.0.1", "localhost")
    with pytest.raises(HttpError) as raised:
        http_get(session, url, DEFAULT)
    assert raised.value.error_type == "blocked_address"
    assert http_server.requests == []


def test_unresolvable_name_is_a_transient_dns_error(session: requests.Session) -> None:
    def nxdomain(host: str) -> Iterable[str]:
        raise OSError("Name or service not known")

    with pytest.raises(HttpError) as raised:
        http_get(session, "http://gone.example/", DEFAULT, resolve=nxdomain)
    assert (raised.value.error_type, raised.value.transient) == ("dns_error", True)


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/",
        "http://internal.example/admin",
        "http://127.0.0.2/",  # loopback, but not in the allowed 127.0.0.1/32
    ],
)
def test_redirect_to_an_internal_address_is_refused(
    http_server: ScriptedServer, session: requests.Session, target: str
) -> None:
    http_server.routes["/a"] = Reply(302, headers={"Location": target})
    settings = HttpSettings(timeout_s=0.5, allowed_networks=("127.0.0.1/32",))
    with pytest.raises(HttpError) as raised:
        http_get(
            session, http_server.url("/a"), settings, resolve=fake_dns({"internal.example": ["10.9.8.7"]})
        )
    assert raised.value.error_type == "blocked_address"
    assert raised.value.url == target
    assert [path for path, _ in http_server.requests] == ["/a"]


def test_dns_rebinding_is_caught_at_the_connection(
    http_server: ScriptedServer, session: requests.Session
) -> None:
    """The name checks out as public, then the connection lands on 127.0.0.1."""
    http_server.routes["/a"] = Reply(200, b"internal secret")
    url = http_server.url("/a").replace("127.0.0.1", "localhost")
    with pytest.raises(HttpError) as raised:
        http_get(session, url, DEFAULT, resolve=fake_dns({"localhost": ["93.184.216.34"]}))
    assert raised.value.error_type == "blocked_address"
    assert "127.0.0.1" in str(raised.value) or "::1" in str(raised.value)


def test_allowlists_open_exactly_what_they_name(
    http_server: ScriptedServer, session: requests.Session
) -> None:
    http_server.routes["/a"] = Reply(200, b"ok")
    by_network = HttpSettings(timeout_s=0.5, allowed_networks=("127.0.0.0/8",))
    assert http_get(session, http_server.url("/a"), by_network).body == b"ok"
    by_host = HttpSettings(timeout_s=0.5, allowed_hosts=("intranet.example",))
    local_name = fake_dns({"intranet.example": ["127.0.0.1"]})
    with pytest.raises(HttpError):  # the name is allowed, not the address behind another name
        http_get(session, http_server.url("/a"), by_host, resolve=local_name)
    for settings in (by_network, by_host):
        with pytest.raises(HttpError) as raised:
            http_get(session, "http://10.0.0.1/", settings)
        assert raised.value.error_type == "blocked_address"
    everything = HttpSettings(timeout_s=0.5, allow_private_addresses=True)
    assert http_get(session, http_server.url("/a"), everything).body == b"ok"


def test_allowlists_come_from_the_config() -> None:
    config = parse_config(
        {"http": {"allowed_hosts": ["Intranet.Example"], "allowed_networks": ["10.0.0.0/8", "fd00::/8"]}}
    )
    settings = config.http_settings()
    assert (settings.allowed_hosts, settings.allowed_networks) == (
        ("intranet.example",),
        ("10.0.0.0/8", "fd00::/8"),
    )
    assert not settings.allow_private_addresses
    with pytest.raises(ConfigError, match=r"allowed_networks"):
        parse_config({"http": {"allowed_networks": ["10.0.0.0/33"]}})


# -- through the DoFns: a Failure row, never an exception ------------------------------------


def test_feed_on_the_metadata_address_is_a_feed_failure() -> None:
    spec = FeedSpec("http://169.254.169.254/latest/meta-data/feed.xml", "X")
    fn = _PollFeedFn(DEFAULT, PollSettings(), 86400, 100)
    fn.setup()
    outputs = list(fn.process((spec.url, spec), state=MemoryState(), idle=MemoryTimer(), tick_time=0.0))
    fn.teardown()
    assert [(type(o), o.value.stage, o.value.error_type) for o in outputs] == [
        (beam.pvalue.TaggedOutput, "feed", "blocked_address")
    ]


@pytest.mark.parametrize("link", ["http://10.0.0.1/article.html", "http://[::1]/article.html"])
def test_article_link_to_a_private_address_is_a_fetch_failure(http_server: ScriptedServer, link: str) -> None:
    entry = FeedEntry(link, link, "https://feeds.example/f", "X", datetime(2025, 6, 1, tzinfo=UTC))
    fn = _FetchFn(FetchSettings(http=DEFAULT, min_host_delay_s=0))
    fn.setup()
    outputs = list(fn.process(("host", entry), state=MemoryState()))
    fn.teardown()
    # blocked before robots.txt, and reported as such (not as "robots unavailable")
    assert [(o.value.stage, o.value.error_type, o.value.url) for o in outputs] == [
        ("fetch", "blocked_address", link)
    ]
