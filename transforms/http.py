"""HTTP GET with the limits a crawler on the open web needs.

``http_get`` follows redirects itself (so that every hop is checked against the address
policy and the redirect cap), streams the body under a size cap and a total deadline, and
turns every problem into an ``HttpError`` that says whether retrying may help.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests

from transforms.urls import is_public_host

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


def _check_address(url: str, settings: HttpSettings) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError("invalid_url", f"not an http(s) URL: {url}", url=url)
    if settings.allow_private_addresses:
        return
    try:
        public = is_public_host(parts.hostname)
    except OSError as err:
        raise HttpError("dns_error", f"{parts.hostname}: {err}", transient=True, url=url) from err
    if not public:
        raise HttpError(
            "blocked_address",
            f"{parts.hostname} resolves to a private, loopback or reserved address",
            url=url,
        )


def _read_body(response: requests.Response, settings: HttpSettings, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_bytes:
        raise HttpError("too_large", f"Content-Length {declared} > {settings.max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    # iter_content decodes gzip/deflate, so the cap applies to decompressed bytes.
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > settings.max_bytes:
            raise HttpError("too_large", f"body larger than {settings.max_bytes} bytes")
        if time.monotonic() > deadline:
            raise HttpError("timeout", "total deadline exceeded while reading", transient=True)
        chunks.append(chunk)
    return b"".join(chunks)


def http_get(
    session: requests.Session,
    url: str,
    settings: HttpSettings,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """GET ``url`` within ``settings``; 2xx and 304 are returned, the rest raise ``HttpError``."""
    deadline = time.monotonic() + settings.timeout_s * 3
    request_headers = {"User-Agent": settings.user_agent, **(headers or {})}
    current = url
    for _hop in range(settings.max_redirects + 1):
        _check_address(current, settings)
        try:
            with session.get(
                current,
                headers=request_headers,
                timeout=settings.timeout_s,
                allow_redirects=False,
                stream=True,
            ) as response:
                status = response.status_code
                if status in (301, 302, 303, 307, 308) and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                if status == 304:
                    return HttpResponse(current, status, b"", dict(response.headers.lower_items()))
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
) -> tuple[HttpResponse, int]:
    """``http_get`` with bounded retries and exponential backoff for transient errors.

    Returns the response and the number of attempts; the last ``HttpError`` is raised with
    an ``attempts`` attribute when every attempt failed.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return http_get(session, url, settings, headers), attempt
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
