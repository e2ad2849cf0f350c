"""The web-content-extraction-benchmark dev pages (``../shared/data/extraction-wcxb-dev``).

1,497 real pages of 2025 from 1,295 domains: articles and pages that are not articles
(service, product, collection, forum, listing, documentation), each with
``ground-truth/NNNN.json``: ``ground_truth.main_content`` (the main text), ``title``,
``publish_date`` (``YYYY-MM-DD`` or absent / ``"None"``) and ``_internal.page_type.primary``.

Split: ``split_of(domain)`` puts every page of a registered domain in ``dev`` or ``test`` by the
first byte of ``sha256("newsbeam-wcxb:" + domain)``, even/odd: deterministic, blind to content,
and no site is on both sides (a site's templates would otherwise leak from one half into the
other).  Five pages have no URL in their gold; their ``rel=canonical``/``og:url`` is used.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from courlan import extract_domain

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "extraction-wcxb-dev"
SPLITS = ("dev", "test")
HELD_OUT = "test"
ARTICLE = "article"

_CANONICAL = re.compile(
    rb'<link[^>]+rel=["\']canonical["\'][^>]*href=["\']([^"\']+)|property=["\']og:url["\'][^>]*content=["\']([^"\']+)',
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Page:
    page_id: str
    url: str
    html: bytes
    body: str  # the gold main text
    title: str | None
    date: str | None  # YYYY-MM-DD
    page_type: str  # "article" or another type

    @property
    def domain(self) -> str:
        host = urlsplit(self.url).hostname or ""
        return extract_domain(self.url) or host

    @property
    def split(self) -> str:
        return split_of(self.domain)

    @property
    def is_article(self) -> bool:
        return self.page_type == ARTICLE


def split_of(domain: str) -> str:
    digest = hashlib.sha256(f"newsbeam-wcxb:{domain}".encode()).digest()
    return SPLITS[digest[0] % 2]


def data_present(data: Path = DATA) -> bool:
    return (data / "ground-truth").is_dir() and (data / "html").is_dir()


def _missing(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip() or value.strip() in ("None", "null"):
        return None
    return value.strip()


def _url_in_page(html: bytes, page_id: str) -> str:
    match = _CANONICAL.search(html)
    if match:
        found = (match.group(1) or match.group(2)).decode("utf-8", "replace")
        if found.startswith("http"):
            return found
    return f"https://page-{page_id}.invalid/"


def load_pages(data: Path = DATA) -> list[Page]:
    """All pages, sorted by id, HTML as the raw (decompressed) bytes."""
    pages = []
    for path in sorted((data / "ground-truth").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        page_id = path.stem
        html = gzip.decompress((data / "html" / f"{page_id}.html.gz").read_bytes())
        gold = record["ground_truth"]
        date = _missing(gold.get("publish_date"))
        pages.append(
            Page(
                page_id=page_id,
                url=_missing(record.get("url")) or _url_in_page(html, page_id),
                html=html,
                body=gold.get("main_content") or "",
                title=_missing(gold.get("title")),
                date=date[:10] if date and re.match(r"\d{4}-\d{2}-\d{2}", date) else None,
                page_type=record["_internal"]["page_type"]["primary"],
            )
        )
    return pages
