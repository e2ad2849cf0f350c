"""URL normalisation and ids: pure functions shared by several stages."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url as _courlan_normalize

# courlan removes the common trackers (utm_*, fbclid, gclid, mc_*, ...); these are
# further ones seen in news feeds.
_EXTRA_TRACKERS = frozenset({"ocid", "cmpid", "at_medium", "at_campaign", "ito", "smid", "rss"})


class InvalidUrl(ValueError):
    """Not an absolute http(s) URL."""


def normalize_url(url: str) -> str:
    """The form of ``url`` used as a de-duplication key.

    Lower-cases scheme and host, drops the default port, the fragment and tracking
    parameters (``utm_*``, ``fbclid``, ``gclid``, ...), sorts the remaining query.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidUrl(f"not an absolute http(s) URL: {url!r}")
    normalized = urlsplit(_courlan_normalize(url))
    query = "&".join(
        pair
        for pair in normalized.query.split("&")
        if pair and pair.split("=", 1)[0].lower() not in _EXTRA_TRACKERS
    )
    path = normalized.path or "/"
    return urlunsplit((normalized.scheme, normalized.netloc, path, query, ""))


def url_id(url: str) -> str:
    """Stable id of a (normalised) URL: 128-bit BLAKE2b, hex."""
    return hashlib.blake2b(url.encode("utf-8"), digest_size=16).hexdigest()


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, lower-cased: the politeness key of the fetcher."""
    return urlsplit(url).netloc.lower()


def domain_of(url: str) -> str:
    """The host name without port or ``www.``: the ``source_domain`` column."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _addresses(host: str) -> Iterable[str]:
    return {str(info[4][0]) for info in socket.getaddrinfo(host, None)}


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def ip_of(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as resolved (``fe80::1%eth0`` allowed), IPv4 embedded in IPv6 unwrapped.

    IPv4-mapped (``::ffff:127.0.0.1``), 6to4 (``2002:7f00:1::``) and NAT64 (``64:ff9b::/96``)
    addresses reach the IPv4 address they carry, so they are judged as that address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public_address(address: str) -> bool:
    """A public unicast address: not loopback, private, link-local, shared, reserved, multicast."""
    ip = ip_of(address)
    return ip.is_global and not ip.is_multicast


def resolve_host(host: str) -> list[str]:
    """The addresses of ``host`` (a name or an IP literal); raises ``OSError`` if none."""
    return sorted(_addresses(host))


def is_public_host(host: str, resolve: Callable[[str], Iterable[str]] = _addresses) -> bool:
    """True when every address ``host`` resolves to is a public unicast address.

    Loopback, private, link-local, multicast, reserved and unspecified addresses are
    not public.  Raises ``OSError`` when the name does not resolve.
    """
    return all(is_public_address(address) for address in resolve(host))
