"""Stage 3, ``ExtractArticles``: main text and metadata from HTML, validated into ``Article``s.

``extract_html`` (trafilatura + htmldate) and ``build_article`` (date resolution, checks,
ids) are plain functions; backfill lines that already carry text skip only the first.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
import htmldate
import trafilatura
from trafilatura.settings import Document
from trafilatura.utils import load_html

from transforms import metrics
from transforms.records import (
    Article,
    Extracted,
    Failure,
    FeedEntry,
    FetchedPage,
    PreExtracted,
    language_code,
)
from transforms.urls import InvalidUrl, domain_of, normalize_url, url_id

FAILURES = "failures"
STAGE = "extract"
EARLIEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(hours=26)  # time zones and clock skew
NOT_ARTICLE_TYPES = ("website", "video", "profile", "music", "book")
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:/|[-_]|$)")
_WORD = re.compile(r"\w+", re.UNICODE)


class ArticleRejected(Exception):
    """A page that does not give an article row; ``error_type`` names why."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class ExtractSettings:
    min_words: int = 50
    max_html_bytes: int = 5_000_000


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time as an aware UTC datetime (naive ones are taken as UTC)."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if re.fullmatch(r".*[+-]\d{4}", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def date_from_url(url: str) -> datetime | None:
    """A ``/YYYY/MM/DD/`` (or ``YYYY-MM-DD``) date in a URL path, at midnight UTC."""
    match = _URL_DATE.search(url)
    if not match:
        return None
    try:
        year, month, day = (int(part) for part in match.groups())
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def is_plausible(when: datetime, now: datetime) -> bool:
    """Not before the web news era, not in the future."""
    return EARLIEST_PLAUSIBLE <= when <= now + FUTURE_TOLERANCE


def resolve_published(
    feed: datetime | None, page: datetime | None, url: str, now: datetime
) -> tuple[datetime | None, str, list[str]]:
    """The best plausible publication time and where it came from.

    Order of trust: the feed's timestamp, the page's metadata, a date in the URL.  Returns
    ``(published_at, date_source, rejected)`` where ``rejected`` names the implausible
    candidates that were skipped.
    """
    rejected: list[str] = []
    in_url = date_from_url(url)
    if page is not None and page == in_url:
        page = None  # a bare date equal to the URL's was most likely read from a URL in the page
    for source, candidate in (("feed", feed), ("page", page), ("url", in_url)):
        if candidate is None:
            continue
        if is_plausible(candidate, now):
            return candidate, source, rejected
        rejected.append(source)
    return None, "none", rejected


def _meta(tree: Any, *names: str) -> str | None:
    for name in names:
        values = tree.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content')
        if values and values[0].strip():
            return str(values[0]).strip()
    return None


_PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "datePublished",
    "pubdate",
    "publishdate",
    "DC.date.issued",
    "dcterms.created",
    "parsely-pub-date",
    "sailthru.date",
)
_LD_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')


def _published_meta(tree: Any) -> str | None:
    """The publication time from the usual metadata fields, which carry the time of day.

    (htmldate, the fallback, gives only a date and may take it from a URL in the page.)
    """
    for name in _PUBLISHED_META:
        values = tree.xpath(f'//meta[@property="{name}" or @name="{name}" or @itemprop="{name}"]/@content')
        if values and parse_datetime(str(values[0])):
            return str(values[0])
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        match = _LD_PUBLISHED.search(script)
        if match and parse_datetime(match.group(1)):
            return match.group(1)
    return None


def _split_tags(values: list[str] | None) -> tuple[str, ...]:
    tags: list[str] = []
    for value in values or []:
        for tag in value.split(","):
            tag = tag.strip()
            if tag and tag not in tags:
                tags.append(tag)
    return tuple(tags)


def extract_html(html: bytes | str, url: str) -> Extracted:
    """Main text and metadata of an HTML page (trafilatura; dates from page metadata only)."""
    tree = load_html(html)
    if tree is None:
        raise ArticleRejected("unparseable_html", "the document could not be parsed as HTML")
    page_type = _meta(tree, "og:type")
    language = language_code(tree.get("lang")) or language_code(_meta(tree, "og:locale", "language"))
    page_date = _published_meta(tree) or htmldate.find_date(
        tree,
        url=None,
        extensive_search=False,
        original_date=True,
        outputformat="%Y-%m-%dT%H:%M:%S%z",
    )
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
    )
    if not isinstance(document, Document):
        return Extracted(page_type=page_type, language=language, published_at=parse_datetime(page_date))
    authors = tuple(a.strip() for a in (document.author or "").split(";") if a.strip())
    return Extracted(
        title=document.title or None,
        text=document.text or None,
        description=document.description or None,
        authors=authors,
        tags=_split_tags((document.tags or []) + (document.categories or [])),
        language=language,
        canonical_url=document.url or None,
        published_at=parse_datetime(page_date),
        page_type=page_type,
    )


def normalize_text(text: str) -> str:
    """Case-folded, NFKC, whitespace-collapsed text: the input of ``content_hash``."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(text: str) -> str:
    return hashlib.blake2b(normalize_text(text).encode("utf-8"), digest_size=16).hexdigest()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def build_article(
    entry: FeedEntry, extracted: Extracted, page_url: str, now: datetime, settings: ExtractSettings
) -> tuple[Article, list[str]]:
    """Validate what was extracted and merge it with the feed's metadata.

    Raises ``ArticleRejected`` for pages that are not articles or have too little text.
    Returns the article and the names of rejected (implausible) date candidates.
    """
    if extracted.page_type and extracted.page_type.split(".", 1)[0].lower() in NOT_ARTICLE_TYPES:
        raise ArticleRejected("not_an_article", f"og:type is {extracted.page_type!r}")
    for where in (page_url, extracted.canonical_url):
        # a home page (often where a removed article now redirects) is a list of links
        parts = urlsplit(where or "")
        if parts.hostname and parts.path in ("", "/") and not parts.query:
            raise ArticleRejected("not_an_article", f"{where} is a site's home page")
    text = (extracted.text or "").strip()
    if not text:
        raise ArticleRejected("no_text", "no main text could be extracted")
    words = word_count(text)
    if words < settings.min_words:
        raise ArticleRejected("too_short", f"{words} words < {settings.min_words}")
    # rel=canonical / og:url, else where redirects ended, else the feed's link
    canonical = entry.url
    for candidate in (extracted.canonical_url, page_url):
        if candidate:
            try:
                canonical = normalize_url(candidate)
                break
            except InvalidUrl:
                continue
    published, source, rejected = resolve_published(
        entry.published_at, extracted.published_at, canonical, now
    )
    article = Article(
        article_id=url_id(canonical),
        url=entry.url,
        canonical_url=canonical,
        feed_url=entry.feed_url,
        publisher=entry.publisher,
        source_domain=domain_of(canonical),
        title=extracted.title or entry.title,
        description=extracted.description or entry.description,
        text=text,
        authors=extracted.authors or entry.authors,
        tags=extracted.tags or entry.tags,
        language=extracted.language or entry.language,
        published_at=published,
        date_source=source,
        first_seen_at=entry.first_seen_at,
        word_count=words,
        content_hash=content_hash(text),
    )
    return article, rejected


class _ExtractFn(beam.DoFn):
    def __init__(self, settings: ExtractSettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        self._extracted = metrics.counter("extracted")
        self._failed = metrics.counter("extract_failures")
        self._dates_rejected = metrics.counter("dates_rejected")
        self._words = metrics.distribution("word_count")

    def process(self, element: FetchedPage | PreExtracted) -> Iterator[Any]:
        now = datetime.now(UTC)
        entry = element.entry
        try:
            if isinstance(element, PreExtracted):
                extracted, page_url = element.extracted, entry.link
            else:
                if len(element.body) > self._settings.max_html_bytes:
                    raise ArticleRejected("too_large", f"{len(element.body)} bytes of HTML")
                extracted, page_url = extract_html(element.body, element.final_url), element.final_url
            article, rejected = build_article(entry, extracted, page_url, now, self._settings)
        except ArticleRejected as err:
            self._failed.inc()
            failure = Failure(STAGE, entry.url, entry.feed_url, err.error_type, str(err), now)
            yield beam.pvalue.TaggedOutput(FAILURES, failure)
            return
        except Exception as err:  # an extractor bug must not lose the entry: dead-letter it
            self._failed.inc()
            message = f"{type(err).__name__}: {err}"
            yield beam.pvalue.TaggedOutput(
                FAILURES, Failure(STAGE, entry.url, entry.feed_url, "extractor_error", message, now)
            )
            return
        self._dates_rejected.inc(len(rejected))
        self._extracted.inc()
        self._words.update(article.word_count)
        yield article


class ExtractArticles(beam.PTransform):
    """``FetchedPage``/``PreExtracted`` in, ``Article`` out; tag ``failures``."""

    def __init__(self, settings: ExtractSettings) -> None:
        super().__init__()
        self._settings = settings

    def expand(self, pages: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return pages | "Extract" >> beam.ParDo(_ExtractFn(self._settings)).with_outputs(
            FAILURES, main="articles"
        )
