"""HTTP GET with the limits a crawler on the open web needs.

``http_get`` follows redirects itself (so that every hop is checked against the address
policy and the redirect cap), streams the body under a size cap and a total deadline, and
turns every problem into an ``HttpError`` that says whether retrying may help.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from transforms.urls import ip_of, is_public_address, resolve_host

Resolver = Callable[[str], Iterable[str]]

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpSettings:
    """Limits for one request; built from the ``http`` section of the job config."""

    user_agent: str = "newsbeam/0.1"
    timeout_s: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    retries: int = 2
    backoff_s: float = 1.0
    max_retry_after_s: float = 60.0
    allow_private_addresses: bool = False
    # Exceptions to the address policy: host names (exact, case-insensitive) and networks
    # (CIDR) that may be reached even though they are private, loopback or link-local.
    allowed_hosts: tuple[str, ...] = ()
    allowed_networks: tuple[str, ...] = ()
    allowed_content_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


class HttpError(Exception):
    """A request that did not give a usable response.

    ``error_type`` is the stable name written to the ``failures`` table; ``transient``
    says whether a later attempt may succeed; ``retry_after_s`` carries the server's
    ``Retry-After`` when it sent one.
    """

    def __init__(
        self,
        error_type: str,
        message: str,
        *,
        transient: bool = False,
        retry_after_s: float | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.transient = transient
        self.retry_after_s = retry_after_s
        self.url = url
        self.attempts = 1


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _address_allowed(address: str, settings: HttpSettings) -> bool:
    if is_public_address(address):
        return True
    ip = ip_of(address)
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.allowed_networks)


def _check_address(url: str, settings: HttpSettings, resolve: Resolver) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to an address the policy forbids."""
    parts = urlsplit(url)
    try:
        host = parts.hostname
        _ = parts.port  # raises ValueError on a port out of range
    except ValueError as err:
        raise HttpError("invalid_url", f"{url}: {err}", url=url) from err
    if parts.scheme not in ("http", "https") or not host:
        raise HttpError("invalid_url", f"not an http(s) URL: {url}", url=url)
    if settings.allow_private_addresses or host.lower().rstrip(".") in settings.allowed_hosts:
        return
    try:
        addresses = list(resolve(host))
    except (OSError, UnicodeError) as err:
        raise HttpError("dns_error", f"{host}: {err}", transient=True, url=url) from err
    if not addresses:
        raise HttpError("dns_error", f"{host}: no address", transient=True, url=url)
    blocked = sorted({address for address in addresses if not _address_allowed(address, settings)})
    if blocked:
        raise HttpError(
            "blocked_address",
            f"{host} resolves to a private, loopback or reserved address ({', '.join(blocked)})",
            url=url,
        )


def _check_peer(response: requests.Response, url: str, settings: HttpSettings) -> None:
    """Check the address actually connected to, not only the one resolved before.

    A host name may resolve to a public address for the check and to an internal one
    for the connection (DNS rebinding).  The request has been sent by now, but nothing
    of the response is read.  Skipped when the connection is not visible (a proxy).
    """
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if settings.allow_private_addresses or host in settings.allowed_hosts:
        return
    connection = getattr(response.raw, "connection", None)
    if connection is None or getattr(connection, "proxy", None) is not None:
        return
    sock = getattr(connection, "sock", None)
    if sock is None:  # http.client hands the socket to the response when it will close
        fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if sock is None:
        return
    try:
        peer = str(sock.getpeername()[0])
    except (OSError, IndexError):
        return
    if not _address_allowed(peer, settings):
        raise HttpError("blocked_address", f"{host} connected to a private address ({peer})", url=url)


_READ_CHUNK = 65536


def _read_body(response: requests.Response, settings: HttpSettings, deadline: float) -> bytes:
    """The decoded body, under the size cap and the total deadline.

    ``read1`` returns after one read on the socket, so a server trickling bytes meets the
    deadline (each read waits at most ``timeout_s``), and urllib3 decompresses at most one
    chunk ahead, so the cap bounds the memory a gzip bomb can take.
    """
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_bytes:
        raise HttpError("too_large", f"Content-Length {declared} > {settings.max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    raw = response.raw
    try:
        while True:
            if time.monotonic() > deadline:
                raise HttpError("timeout", "total deadline exceeded while reading", transient=True)
            chunk = raw.read1(_READ_CHUNK, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > settings.max_bytes:
                raise HttpError("too_large", f"body larger than {settings.max_bytes} bytes")
            chunks.append(chunk)
    except urllib3.exceptions.DecodeError as err:
        raise HttpError("bad_encoding", f"undecodable Content-Encoding: {err}") from err
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as err:
        raise HttpError("timeout", f"read timed out: {err}", transient=True) from err
    except (urllib3.exceptions.HTTPError, OSError) as err:  # ProtocolError: cut off mid-body
        raise HttpError("connection_error", f"connection broken: {err}", transient=True) from err


def http_get(
    session: requests.Session,
    url: str,
    settings: HttpSettings,
    headers: Mapping[str, str] | None = None,
    resolve: Resolver = resolve_host,
) -> HttpResponse:
    """GET ``url`` within ``settings``; 2xx and 304 are returned, the rest raise ``HttpError``.

    Every hop of a redirect is checked against the address policy (``resolve`` names the
    host's addresses; tests inject one).
    """
    deadline = time.monotonic() + settings.timeout_s * 3
    request_headers = {"User-Agent": settings.user_agent, **(headers or {})}
    current = url
    for _hop in range(settings.max_redirects + 1):
        _check_address(current, settings, resolve)
        try:
            with session.get(
                current,
                headers=request_headers,
                timeout=settings.timeout_s,
                allow_redirects=False,
                stream=True,
            ) as response:
                _check_peer(response, current, settings)
                status = response.status_code
                if status in (301, 302, 303, 307, 308) and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                if status == 304:
                    return HttpResponse(current, status, b"", dict(response.headers.lower_items()))
                if 300 <= status < 400:
                    raise HttpError("bad_redirect", f"HTTP {status} without a Location", url=current)
                if status >= 400:
                    raise HttpError(
                        f"http_{status}",
                        f"HTTP {status} {response.reason or ''}".strip(),
                        transient=status in TRANSIENT_STATUS,
                        retry_after_s=_retry_after(response.headers.get("retry-after")),
                        url=current,
                    )
                content_type = (response.headers.get("content-type") or "").lower()
                # A missing Content-Type is let through: the next stage looks at the bytes.
                if (
                    content_type
                    and settings.allowed_content_types
                    and not any(allowed in content_type for allowed in settings.allowed_content_types)
                ):
                    raise HttpError("bad_content_type", f"Content-Type {content_type!r}", url=current)
                body = _read_body(response, settings, deadline)
                return HttpResponse(current, status, body, dict(response.headers.lower_items()))
        except HttpError as err:
            err.url = err.url or current
            raise
        except requests.Timeout as err:
            raise HttpError("timeout", str(err), transient=True, url=current) from err
        except requests.ConnectionError as err:
            raise HttpError("connection_error", str(err), transient=True, url=current) from err
        except requests.RequestException as err:
            raise HttpError("request_error", str(err), url=current) from err
    raise HttpError("too_many_redirects", f"more than {settings.max_redirects} redirects", url=current)


def get_with_retries(
    session: requests.Session,
    url: str,
    settings: HttpSettings,
    headers: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    resolve: Resolver = resolve_host,
) -> tuple[HttpResponse, int]:
    """``http_get`` with bounded retries and exponential backoff for transient errors.

    Returns the response and the number of attempts; the last ``HttpError`` is raised with
    an ``attempts`` attribute when every attempt failed.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return http_get(session, url, settings, headers, resolve), attempt
        except HttpError as err:
            err.attempts = attempt
            if not err.transient or attempt > settings.retries:
                raise
            delay = settings.backoff_s * 2 ** (attempt - 1)
            if err.retry_after_s is not None:
                if err.retry_after_s > settings.max_retry_after_s:
                    raise
                delay = max(delay, err.retry_after_s)
            sleep(delay)


def new_session(settings: HttpSettings) -> requests.Session:
    """A session with the configured User-Agent; callers create one per DoFn in ``setup``."""
    session = requests.Session()
    session.headers["User-Agent"] = settings.user_agent
    return session
