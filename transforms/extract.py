"""Stage 3, ``ExtractArticles``: main text and metadata from HTML, validated into ``Article``s.

``extract_html`` (trafilatura, the headline, the page's evidence for the article
decision) and ``build_article`` (the checks and the decision of ``transforms.pagetype``, date
resolution, ids) are plain functions; backfill lines that already carry text skip the first
and the decision.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
import trafilatura
from courlan import extract_domain
from lxml import etree
from trafilatura.settings import Document
from trafilatura.utils import load_html

from transforms import metrics, pagetype
from transforms.pagetype_model import MODEL
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
_TITLE_SUFFIX = re.compile(
    r"^(?P<head>.*\S)\s+(?:[|\-\u2013\u2014:\u00b7\u2022\u00bb/]+|::)\s+(?P<tail>[^|\u2013\u2014\u00b7\u2022\u00bb]{1,80})$"
)
_TITLE_PREFIX = re.compile(
    r"^(?P<tail>[^|\u2013\u2014\u00b7\u2022\u00bb]{1,80}?)\s+(?:[|\-\u2013\u2014\u00b7\u2022\u00bb]+|::)\s+(?P<head>\S.*)$"
)
_BARE_LINE = re.compile(
    r"\s*(?:https?://\S+|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)\s*"
)
# a teaser for another article inside the text: "Read more: <its headline>", "Related: …" (a
# headline, so no sentence's closing stop)
_TEASER_LINE = re.compile(
    r"\s*(?:read (?:more|also)|also read|related(?: stories| articles)?|see also|more on this)\s*[:|\u2013\u2014-]\s*\S.{0,200}(?<![.!?])\s*",
    re.IGNORECASE,
)
MIN_TITLE_OVERLAP = 0.5  # share of the longer title's words that an h1 must share with the metadata title
VISIBLE_TITLE_OVERLAP = 0.2  # the same for the first h1 when no h1 reaches MIN_TITLE_OVERLAP
PRECISION_KEEP = 0.5  # keep trafilatura's favor_precision text if it is at least this share of the default
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:/|[-_]|$)")
_URL_MONTH_DATE = re.compile(r"/((?:19|20)\d{2})/([A-Za-z]{3})/(0?[1-9]|[12]\d|3[01])/")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
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
    precision_pass: bool = True  # a second, favor_precision trafilatura pass: +0.006 F1, ~2x CPU


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
    """A ``/YYYY/MM/DD/`` (or ``YYYY-MM-DD``, or ``/YYYY/mon/DD/``) date in a URL path, at midnight UTC."""
    try:
        match = _URL_DATE.search(url)
        if match:
            year, month, day = (int(part) for part in match.groups())
            return datetime(year, month, day, tzinfo=UTC)
        match = _URL_MONTH_DATE.search(url)
        if match and match.group(2).lower() in _MONTHS:
            month = _MONTHS.index(match.group(2).lower()) + 1
            return datetime(int(match.group(1)), month, int(match.group(3)), tzinfo=UTC)
    except ValueError:
        return None
    return None


def is_plausible(when: datetime, now: datetime) -> bool:
    """Not before the web news era, not in the future."""
    return EARLIEST_PLAUSIBLE <= when <= now + FUTURE_TOLERANCE


def resolve_published(
    feed: datetime | None,
    page: datetime | None,
    url: str,
    now: datetime,
    guess: datetime | None = None,
) -> tuple[datetime | None, str, list[str]]:
    """The best plausible publication time and where it came from.

    Order of trust: the feed's timestamp, the page's metadata, a date in the URL, a date found
    in the page's text (``guess``).  Returns ``(published_at, date_source, rejected)`` where
    ``rejected`` names the implausible candidates that were skipped.
    """
    rejected: list[str] = []
    for source, candidate in (("feed", feed), ("page", page), ("url", date_from_url(url)), ("guess", guess)):
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


def _compact(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def is_site_name(segment: str, host: str, names: Collection[str]) -> bool:
    """Whether a title segment names the site: a declared name, or the host's name in it.

    ``names`` are folded (``og:site_name``, ``application-name``); the host test takes the
    registered domain (not "news." or "edition." subdomains) and compares letters and digits
    only, so "CBSSports.com", "BBC News" (bbc.co.uk) and "9to5Mac" match.
    """
    if _fold(segment) in names:
        return True
    if len(segment.split()) > 6:
        return False
    compact = _compact(segment)
    domain = (extract_domain(f"http://{host}") or host).casefold() if host else ""
    site = _compact(domain.split(".")[0]) if domain else ""  # "sky" for news.sky.com
    if not compact or len(site) < 3:
        return False
    return site in compact or (len(compact) >= 4 and compact in _compact(domain))


def only_site_name(text: str, host: str, names: Collection[str]) -> bool:
    """Whether a whole title is the site's name: a declared name (``names``, folded), or the
    host's registered domain or its first label, letters and digits compared."""
    if _fold(text) in names:
        return True
    compact = _compact(text)
    domain = (extract_domain(f"http://{host}") or host).casefold() if host else ""
    return bool(compact and domain) and compact in (_compact(domain), _compact(domain.split(".")[0]))


def strip_site_name(title: str, host: str, names: Collection[str]) -> str:
    """A title without a leading or trailing site-name segment ("… | CBC News", "BBC - …") and
    without what follows its first " | " (a section, the site's name or its slogan), unless the
    part before it is a short (under three words) one that the rest outweighs."""
    title = _strip_named(" ".join(title.split()), host, names)
    head, pipe, rest = title.partition(" | ")
    if pipe and (len(head.split()) >= 3 or len(head) >= len(rest)):
        title = _strip_named(head, host, names)
    return title


def _strip_named(title: str, host: str, names: Collection[str]) -> str:
    for _ in range(3):  # "Headline | Section | Site" loses only the site; a non-site segment stops
        match = _TITLE_SUFFIX.match(title)
        if match and is_site_name(match.group("tail"), host, names):
            title = match.group("head").rstrip(" |-\u2013\u2014:")
            continue
        match = _TITLE_PREFIX.match(title)
        if match and is_site_name(match.group("tail"), host, names):
            title = match.group("head")
            continue
        break
    return title


def title_overlap(first: str, second: str) -> float:
    """Shared words over the longer title's word count (case-folded, word characters only)."""
    one, two = set(_WORD.findall(first.casefold())), set(_WORD.findall(second.casefold()))
    if not one or not two:
        return 0.0
    return len(one & two) / max(len(one), len(two))


def _plausible_heading(heading: str, host: str, names: Collection[str]) -> bool:
    return 0 < len(heading) <= 300 and len(heading.split()) >= 2 and not is_site_name(heading, host, names)


def choose_title(
    headings: Sequence[str],
    references: Sequence[str],
    host: str,
    names: Collection[str],
    fallback: str | None = None,
) -> str | None:
    """The article's headline: the visible one (an ``<h1>``) where there is one, else the first
    metadata title without its site name, else ``fallback`` (the extractor's own title).

    ``headings`` are the page's h1 texts in document order (outside navigation, footers,
    asides and forms), ``references`` its metadata titles in order of trust (og:title, JSON-LD
    headline, twitter:title, <title>).  The h1 that shares the most words with a metadata
    title (at least ``MIN_TITLE_OVERLAP``) wins, so a widget's h1 before the headline does
    not; without such agreement the first h1 of two or more words that is not the site's name
    is the visible headline (sites often write a different, search-engine title in their
    metadata).  Titles come HTML-unescaped (pages that escape twice), and never as the site's
    name alone (``only_site_name``): then ``None``, and the stage takes the feed's title.
    """
    cleaned = [strip_site_name(_unescape(ref), host, names) for ref in references if ref and ref.strip()]
    cleaned = [ref for ref in cleaned if ref and not only_site_name(ref, host, names)]
    plausible = [
        h for h in (" ".join(_unescape(h).split()) for h in headings) if _plausible_heading(h, host, names)
    ]
    best, best_score = None, 0.0
    for heading in plausible:
        score = max((title_overlap(heading, ref) for ref in cleaned), default=0.0)
        if score > best_score:
            best, best_score = heading, score
    if best is not None and best_score >= MIN_TITLE_OVERLAP:
        return best
    first = plausible[0] if plausible else None
    if first is not None and (
        not cleaned or max(title_overlap(first, ref) for ref in cleaned) >= VISIBLE_TITLE_OVERLAP
    ):
        return first
    if cleaned:
        return cleaned[0]
    if fallback and fallback.strip():
        title = strip_site_name(_unescape(fallback), host, names)
        if title and not only_site_name(title, host, names):
            return title
    return None


def _unescape(text: str) -> str:
    return html_lib.unescape(text) if "&" in text else text


def clean_text(text: str, titles: Collection[str]) -> str:
    """The main text without lines that repeat the headline, bare URL/timestamp lines and
    teasers for other articles ("Read more: …", "Related: …")."""
    folded = {_fold(title) for title in titles if title}
    kept = [
        line
        for line in text.split("\n")
        if _fold(line) not in folded and not _BARE_LINE.fullmatch(line) and not _TEASER_LINE.fullmatch(line)
    ]
    return "\n".join(kept).strip()


def _texts(tree: Any, xpath: str) -> list[str]:
    values = []
    for value in tree.xpath(xpath):
        text = value if isinstance(value, str) else value.text_content()
        text = " ".join(str(text).split())
        if text:
            values.append(text)
    return values


_LD_HEADLINE = re.compile(r'"headline"\s*:\s*"((?:[^"\\]|\\.)+)"')


def _ld_headlines(tree: Any) -> list[str]:
    found = []
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        for match in _LD_HEADLINE.finditer(script):
            try:
                found.append(html_lib.unescape(json.loads(f'"{match.group(1)}"')))
            except ValueError:
                continue
    return found


def page_title(tree: Any, url: str, extractor_title: str | None) -> str | None:
    """``choose_title`` with the page's h1s, metadata titles and site names."""
    host = urlsplit(url).hostname or ""
    names = {
        _fold(n)
        for n in _texts(tree, '//meta[@property="og:site_name" or @name="application-name"]/@content')
    }
    references = [
        *_texts(tree, '//meta[@property="og:title" or @name="og:title"]/@content')[:1],
        *_ld_headlines(tree)[:1],
        *_texts(tree, '//meta[@name="twitter:title" or @property="twitter:title"]/@content')[:1],
        *_texts(tree, "//head/title")[:1],
    ]
    headings = _texts(
        tree, "//h1[not(ancestor::nav or ancestor::footer or ancestor::aside or ancestor::form)]"
    )
    return choose_title(headings[:10], references, host, names, extractor_title)


def _bare_text(document: Any) -> str:
    return (document.text or "").strip() if isinstance(document, Document) else ""


def article_element_text(tree: Any, url: str) -> str:
    """The text of the page's largest ``<article>`` element, extracted on its own.

    The fallback when trafilatura and its baseline find nothing: on pages with broken markup
    (an unclosed ``<aside>`` or ``<header>`` that swallows the rest of the body) the article
    ends up inside an element trafilatura removes as boilerplate.
    """
    elements = tree.xpath("//article")
    if not elements:
        return ""
    largest = max(elements, key=lambda e: len(e.text_content()))
    page = "<html><body>" + etree.tostring(largest, encoding="unicode") + "</body></html>"
    return _bare_text(trafilatura.bare_extraction(page, url=url, include_comments=False, include_tables=True))


def choose_text(default: str, precise: str) -> str:
    """trafilatura's ``favor_precision`` text unless it lost too much of the default's.

    Precision mode drops more boilerplate (newsletter boxes, related links) but on some pages
    keeps only a fragment or nothing; below ``PRECISION_KEEP`` of the default's length the
    default text is kept.
    """
    if precise and len(precise) >= PRECISION_KEEP * len(default):
        return precise
    return default


def extract_html(html: bytes | str, url: str, precision_pass: bool = True) -> Extracted:
    """Main text and metadata of an HTML page (trafilatura; the publication time from the
    page's metadata, and apart from it the date trafilatura finds in the page: htmldate's
    extensive search, original date, computed by the same ``bare_extraction`` call).

    Text: trafilatura (tables kept, comments not), the ``favor_precision`` pass preferred
    when ``precision_pass`` and it kept enough (``choose_text``), then ``clean_text``; if
    trafilatura finds nothing, its ``baseline`` (all paragraphs), then ``article_element_text``.
    Title: ``page_title``.
    """
    tree = load_html(html)
    if tree is None:
        raise ArticleRejected("unparseable_html", "the document could not be parsed as HTML")
    page_type = _meta(tree, "og:type")
    language = language_code(tree.get("lang")) or language_code(_meta(tree, "og:locale", "language"))
    meta_date = _published_meta(tree)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
    )
    text = _bare_text(document)
    if text and precision_pass:
        precise = trafilatura.bare_extraction(
            tree, url=url, include_comments=False, include_tables=True, favor_precision=True
        )
        text = choose_text(text, _bare_text(precise))
    if not text:
        _, text, _ = trafilatura.baseline(tree)
    if not text:
        text = article_element_text(tree, url)
    if not isinstance(document, Document):
        title = page_title(tree, url, None)
        text = clean_text(text, [title] if title else [])
        return Extracted(
            title=title,
            text=text or None,
            page_type=page_type,
            language=language,
            published_at=parse_datetime(meta_date),
            evidence=tuple(pagetype.page_evidence(tree, url, text, meta_date is not None).items()),
        )
    title = page_title(tree, url, document.title or None)
    authors = tuple(a.strip() for a in (document.author or "").split(";") if a.strip())
    text = clean_text(text, [t for t in (title, document.title, *_texts(tree, "//h1")[:3]) if t])
    return Extracted(
        title=title,
        text=text or None,
        description=document.description or None,
        authors=authors,
        tags=_split_tags((document.tags or []) + (document.categories or [])),
        language=language,
        canonical_url=document.url or None,
        published_at=parse_datetime(meta_date),
        guessed_at=parse_datetime(document.date),
        page_type=page_type,
        evidence=tuple(pagetype.page_evidence(tree, url, text, meta_date is not None).items()),
    )


def normalize_text(text: str) -> str:
    """Case-folded, NFKC, whitespace-collapsed text: the input of ``content_hash``."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(text: str) -> str:
    return hashlib.blake2b(normalize_text(text).encode("utf-8"), digest_size=16).hexdigest()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _is_site_root(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return bool(parts.hostname) and parts.path in ("", "/") and not parts.query


def decide_article(entry: FeedEntry, extracted: Extracted) -> None:
    """The article decision for a page read from HTML (nothing to decide when no page was read).

    Raises ``ArticleRejected`` (``not_an_article``) when the page-type model scores the page
    below its threshold (a feed entry gets ``pagetype.FEED_PRIOR``); the message names the
    signals that weighed most.
    """
    if not extracted.evidence:
        return
    decision = pagetype.decide(dict(extracted.evidence), MODEL, in_feed=entry.feed_url is not None)
    if not decision.is_article:
        raise ArticleRejected("not_an_article", decision.message())


def build_article(
    entry: FeedEntry,
    extracted: Extracted,
    page_url: str,
    now: datetime,
    settings: ExtractSettings,
    given_text: bool = False,
) -> tuple[Article, list[str]]:
    """Validate what was extracted and merge it with the feed's metadata.

    Raises ``ArticleRejected`` for an entry whose link led to a site's home page (where removed
    articles are often redirected), for too little text, and for pages that are not articles
    (``decide_article``).  ``given_text``: the text came with the entry (a backfill line's
    ``text``), so its sender has already decided it is an article: no page-type decision and
    no ``min_words`` floor, only a non-empty text.  Returns the article and the names of
    rejected (implausible) date candidates.
    """
    if _is_site_root(page_url) and not _is_site_root(entry.link):
        raise ArticleRejected("not_an_article", f"{entry.link} redirected to the site's home page {page_url}")
    text = (extracted.text or "").strip()
    if not text:
        raise ArticleRejected("no_text", "no main text could be extracted")
    words = word_count(text)
    if not given_text:
        if words < settings.min_words:
            raise ArticleRejected("too_short", f"{words} words < {settings.min_words}")
        decide_article(entry, extracted)
    # rel=canonical / og:url (unless it names a site's home page: a template's default), else
    # where redirects ended, else the feed's link
    canonical = entry.url
    declared = None if _is_site_root(extracted.canonical_url) else extracted.canonical_url
    for candidate in (declared, page_url):
        if candidate:
            try:
                canonical = normalize_url(candidate)
                break
            except InvalidUrl:
                continue
    published, source, rejected = resolve_published(
        entry.published_at, extracted.published_at, canonical, now, extracted.guessed_at
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
            given_text = isinstance(element, PreExtracted)  # a backfill line's own text
            if isinstance(element, PreExtracted):
                extracted, page_url = element.extracted, entry.link
            else:
                if len(element.body) > self._settings.max_html_bytes:
                    raise ArticleRejected("too_large", f"{len(element.body)} bytes of HTML")
                extracted = extract_html(
                    element.body, element.final_url, precision_pass=self._settings.precision_pass
                )
                page_url = element.final_url
            article, rejected = build_article(entry, extracted, page_url, now, self._settings, given_text)
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
