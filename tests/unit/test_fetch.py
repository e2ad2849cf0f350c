from __future__ import annotations

from transforms.fetch import parse_robots, politeness_wait, robots_body_for, robots_url
from transforms.http import HttpError


def test_robots_url() -> None:
    assert robots_url("https://ex.org:8443/a/b.html?x=1") == "https://ex.org:8443/robots.txt"


def test_robots_responses_follow_rfc_9309() -> None:
    assert robots_body_for(200, b"User-agent: *\nDisallow: /x/\n") == "User-agent: *\nDisallow: /x/\n"
    assert robots_body_for(HttpError("http_404", "missing"), b"") == ""  # allow all
    assert robots_body_for(HttpError("http_403", "forbidden"), b"") == ""
    assert robots_body_for(HttpError("http_503", "down", transient=True), b"") is None  # fetch nothing now
    assert robots_body_for(HttpError("http_429", "slow down", transient=True), b"") is None
    assert robots_body_for(HttpError("timeout", "slow", transient=True), b"") is None


def test_robots_rules_and_crawl_delay() -> None:
    robots = parse_robots("User-agent: *\nDisallow: /private/\nCrawl-delay: 3\n")
    assert not robots.can_fetch("https://ex.org/private/a.html", "newsbeam/0.1")
    assert robots.can_fetch("https://ex.org/news/a.html", "newsbeam/0.1")
    assert robots.crawl_delay("newsbeam/0.1") == 3


def test_politeness_wait() -> None:
    assert politeness_wait(None, now=100.0, delay_s=5.0) == 0.0
    assert politeness_wait(98.0, now=100.0, delay_s=5.0) == 3.0
    assert politeness_wait(90.0, now=100.0, delay_s=5.0) == 0.0
