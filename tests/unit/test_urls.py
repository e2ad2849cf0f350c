from __future__ import annotations

import pytest

from transforms.urls import InvalidUrl, domain_of, host_of, is_public_host, normalize_url, url_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "HTTP://Example.COM:80/a/b.html?utm_source=rss&utm_medium=feed&id=3&b=2#rssom",
            "http://example.com/a/b.html?b=2&id=3",
        ),
        ("http://127.0.0.1:8000/x/y.html?utm_campaign=x&fbclid=abc#rssom", "http://127.0.0.1:8000/x/y.html"),
        ("https://news.example.org", "https://news.example.org/"),
        ("https://news.example.org:443/a?gclid=1&ocid=rss&page=2", "https://news.example.org/a?page=2"),
        ("  https://news.example.org/a  ", "https://news.example.org/a"),
    ],
)
def test_normalize_url_strips_tracking_and_noise(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


def test_tracking_variants_share_one_key() -> None:
    a = normalize_url("https://ex.org/story.html?utm_source=rss&utm_medium=feed")
    b = normalize_url("https://ex.org/story.html?utm_campaign=x&fbclid=abc#rssom")
    assert a == b == "https://ex.org/story.html"
    assert url_id(a) == url_id(b)
    assert url_id(a) != url_id("https://ex.org/other.html")
    assert len(url_id(a)) == 32


@pytest.mark.parametrize("raw", ["", "ftp://ex.org/a", "/relative/path", "mailto:x@ex.org", "http://"])
def test_normalize_url_rejects_non_http(raw: str) -> None:
    with pytest.raises(InvalidUrl):
        normalize_url(raw)


def test_hosts_and_domains() -> None:
    assert host_of("https://WWW.Ex.org:8443/a") == "www.ex.org:8443"
    assert domain_of("https://WWW.Ex.org:8443/a") == "ex.org"


@pytest.mark.parametrize(
    ("addresses", "public"),
    [
        (["93.184.216.34"], True),
        (["127.0.0.1"], False),
        (["10.1.2.3"], False),
        (["192.168.0.1"], False),
        (["169.254.169.254"], False),
        (["::1"], False),
        (["fe80::1%eth0"], False),
        (["93.184.216.34", "10.0.0.1"], False),
        (["0.0.0.0"], False),
    ],
)
def test_is_public_host(addresses: list[str], public: bool) -> None:
    assert is_public_host("host.test", resolve=lambda _: addresses) is public
