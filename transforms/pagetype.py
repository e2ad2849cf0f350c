"""Is a page an article?  Evidence read from the page, weighed by a small linear model.

``page_evidence(tree, url, text)`` reads named signals from a parsed page and its extracted main
text: structured data types (JSON-LD ``@type``, microdata ``itemtype``), ``og:type``, the text's
length and shape, link density, the share of the page's text in lists, tables and repeated
card-like blocks, the URL's shape and date evidence.  ``decide(evidence, in_feed)`` scores them
with the logistic model in ``transforms/pagetype_model.py`` (trained by
``benchmarks/train_pagetype.py``; its data and split are recorded there) and returns a
``Decision`` whose ``reasons`` name the signals that weighed most, for the failure message.

Invariants: every signal is a finite float computed from the page alone (no network, no
state), and the same page gives the same evidence.  The decision is the learned weights'
sum plus two priors set by hand (``FEED_PRIOR`` for entries listed in a feed,
``DECLARED_MEDIA_PRIOR`` for pages whose og:type declares a video, record, book or profile);
the one rule that decides alone is a main text made mostly of link texts (``LINK_LIST_SHARE``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

# fmt: off
ARTICLE_TYPES = frozenset(t.casefold() for t in (
    "Article", "NewsArticle", "BlogPosting", "Blog", "Report", "TechArticle", "ScholarlyArticle",
    "LiveBlogPosting", "OpinionNewsArticle", "AnalysisNewsArticle", "ReportageNewsArticle",
    "BackgroundNewsArticle", "ReviewNewsArticle", "AskPublicNewsArticle", "SatiricalArticle",
    "AdvertiserContentArticle", "MedicalScholarlyArticle", "Recipe", "HowTo",
))
PRODUCT_TYPES = frozenset(t.casefold() for t in (
    "Product", "ProductGroup", "IndividualProduct", "ProductModel", "Offer", "AggregateOffer", "Car",
))
LIST_TYPES = frozenset(t.casefold() for t in (
    "ItemList", "CollectionPage", "SearchResultsPage", "OfferCatalog", "ProfilePage",
))
FORUM_TYPES = frozenset(t.casefold() for t in (
    "DiscussionForumPosting", "QAPage", "Comment", "SocialMediaPosting",
))
SERVICE_TYPES = frozenset(t.casefold() for t in (
    "Service", "SoftwareApplication", "WebApplication", "Course", "Event", "JobPosting", "ContactPage",
))
# path words that name what a page is (lower-cased path segments split on - _ . and /)
ARTICLE_PATH_WORDS = frozenset((
    "news", "blog", "blogs", "article", "articles", "story", "stories", "post", "posts", "opinion",
    "opinions", "editorial", "column", "columns", "press", "insights", "magazine", "feature",
    "features", "analysis", "interview",
))
OTHER_PATH_WORDS = frozenset((
    "product", "products", "shop", "store", "category", "categories", "collection", "collections",
    "tag", "tags", "topic", "topics", "search", "services", "service", "solutions", "pricing", "docs",
    "doc", "documentation", "api", "reference", "manual", "forum", "forums", "thread", "threads",
    "questions", "community", "help", "support", "kb", "wiki", "jobs", "careers", "cart", "catalog",
    "item", "dp", "listing", "listings", "index", "contact", "about", "author", "authors", "profile",
    "user", "users",
))
# fmt: on
OG_GROUPS = ("article", "website", "product", "media", "none", "other")
_OG_MEDIA = ("video", "music", "book", "profile")
_LD_TYPE = re.compile(r'"@type"\s*:\s*(\[[^\]]*\]|"[^"]*")')
_URL_DATE = re.compile(
    r"/(?:19|20)\d{2}(?:[/-](?:0?[1-9]|1[0-2]|[a-z]{3})(?:[/-](?:0?[1-9]|[12]\d|3[01]))?)?(?:/|-|$)"
)
_PATH_WORD = re.compile(r"[a-z]+")
_PRICE = re.compile(r"(?:[$€£¥₹]\s?\d[\d.,]*|\d[\d.,]*\s?(?:€|\$|£|USD|EUR|GBP|kr)\b)")
_SENTENCE_END = re.compile("[.!?\u2026:;\"'\u201d\u2019)]\\s*$")
_SKIP_TAGS = frozenset(
    ("script", "style", "noscript", "template", "svg", "head", "iframe", "button", "select")
)
_BOILER_TAGS = frozenset(("nav", "header", "footer", "aside", "form"))
_CARD_MIN = 4  # siblings of one tag and class, each holding a link: a list of cards from that many
_ARTICLE_ISH = ("article", "blog", "post", "news", "entry", "story")

FEED_PRIOR = 2.0  # log-odds added when the entry came from a feed (not learned: no feed data)
# Set by hand, not learned (dev has one such page): log-odds added when og:type declares a
# video, a record, a book or a profile.  The page's main content is then a player or a person
# and its text a caption or a blurb; strong enough that a feed entry so declared is refused
# unless the rest of the page is an unmistakable article (a transcript, a full story).
DECLARED_MEDIA_PRIOR = -8.0
HAND_SET = frozenset(("og_media",))  # evidence weighed by hand, left out of the learned model
LINK_LIST_SHARE = 0.5  # share of the main text's words on lines that are whole link texts


@dataclass(frozen=True)
class Decision:
    """The article decision: ``score`` is the model's log-odds plus priors; ``reasons`` the
    signals that weighed most in the direction of the decision, strongest first."""

    is_article: bool
    score: float
    threshold: float
    reasons: tuple[str, ...]

    def message(self) -> str:
        return f"not an article (score {self.score:+.2f} < {self.threshold:+.2f}): " + "; ".join(self.reasons)


def _structured_types(tree: Any) -> set[str]:
    types: set[str] = set()
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        for match in _LD_TYPE.finditer(script):
            try:
                value = json.loads(match.group(1))
            except ValueError:
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    types.add(item.rsplit("/", 1)[-1].casefold())
    for itemtype in tree.xpath("//@itemtype"):
        for item in str(itemtype).split():
            types.add(item.rstrip("/").rsplit("/", 1)[-1].casefold())
    return types


def _meta(tree: Any, name: str) -> str | None:
    values = tree.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content')
    return str(values[0]).strip() if values and str(values[0]).strip() else None


def og_group(og_type: str | None) -> str:
    """``og:type`` in one of ``OG_GROUPS``."""
    if not og_type:
        return "none"
    value = og_type.strip().casefold()
    if value.startswith("article") or value in ("blog", "news"):
        return "article"
    if value == "website":
        return "website"
    if "product" in value:
        return "product"
    if value.split(".", 1)[0] in _OG_MEDIA:
        return "media"
    return "other"


@dataclass
class _Block:
    tag: str
    signature: tuple[str, str]
    text: int = 0
    has_link: bool = False
    children: dict[tuple[str, str], list[int]] | None = None  # signature -> [count, text]
    repeats: dict[tuple[str, str], list[int]] | None = None  # the same for blocks of 80+ characters


def _dom_shares(body: Any) -> dict[str, float]:
    """One pass over the body: characters of text in links, lists, tables, boilerplate
    containers and card-like repeated blocks (``_CARD_MIN`` or more siblings of one tag and
    class, each holding a link), the largest such group, and a few element counts."""
    total = in_link = in_list = in_table = in_boiler = cards = 0
    largest = 0
    articles = forms = inputs = times = 0
    stack: list[_Block] = []
    depth = {"a": 0, "li": 0, "td": 0, "th": 0, "dd": 0, "pre": 0, "code": 0, "p": 0, "skip": 0, "boiler": 0}
    in_paragraph = long_paragraphs = 0
    in_code = headings = linked_headings = bylines = repeated = 0

    def account(length: int) -> None:
        nonlocal total, in_link, in_list, in_table, in_boiler, in_code, in_paragraph
        if not length or depth["skip"]:
            return
        total += length
        if depth["a"]:
            in_link += length
        if depth["li"] or depth["dd"]:
            in_list += length
        if depth["td"] or depth["th"]:
            in_table += length
        if depth["boiler"]:
            in_boiler += length
        if depth["pre"] or depth["code"]:
            in_code += length
        if depth["p"]:
            in_paragraph += length
        if stack:
            stack[-1].text += length

    for event, element in etree.iterwalk(body, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.rsplit("}", 1)[-1].lower()
        if event == "start":
            block = _Block(tag, (tag, " ".join(str(element.get("class") or "").split()[:2])))
            stack.append(block)
            if tag in _SKIP_TAGS or not tag:
                depth["skip"] += 1
            if tag in _BOILER_TAGS:
                depth["boiler"] += 1
            if tag in depth:
                depth[tag] += 1
            if tag == "a" and element.get("href"):
                block.has_link = True
            elif tag == "article":
                articles += 1
            elif tag == "form":
                forms += 1
            elif tag in ("input", "select", "textarea"):
                inputs += 1
            elif tag == "time":
                times += 1
            elif tag in ("h2", "h3", "h4"):
                headings += 1
                if element.find(".//a") is not None:
                    linked_headings += 1
            marker = f"{element.get('class') or ''} {element.get('id') or ''}".casefold()
            if "byline" in marker or "author" in marker:
                bylines += 1
            if tag and tag not in _SKIP_TAGS:
                account(len((element.text or "").strip()))
            continue
        block = stack.pop()
        if tag == "p" and block.text >= 250 and not depth["boiler"]:
            long_paragraphs += 1
        if tag in _SKIP_TAGS or not tag:
            depth["skip"] -= 1
        if tag in _BOILER_TAGS:
            depth["boiler"] -= 1
        if tag in depth:
            depth[tag] -= 1
        if block.children:
            for count, text in block.children.values():
                if count >= _CARD_MIN:
                    largest = max(largest, count)
                    cards += text
        if block.repeats:
            for (sig_tag, sig_class), (count, text) in block.repeats.items():
                if count >= 3 and sig_class and sig_tag not in ("p", "span", "a", "br"):
                    repeated += text
        if stack:
            parent = stack[-1]
            parent.text += block.text
            if block.text >= 80:
                if parent.repeats is None:
                    parent.repeats = {}
                rslot = parent.repeats.setdefault(block.signature, [0, 0])
                rslot[0] += 1
                rslot[1] += block.text
            if block.has_link:
                parent.has_link = True
                if parent.children is None:
                    parent.children = {}
                slot = parent.children.setdefault(block.signature, [0, 0])
                slot[0] += 1
                slot[1] += block.text
        account(len((element.tail or "").strip()))
    share = (lambda part: part / total) if total else (lambda part: 0.0)
    return {
        "link_density": share(in_link),
        "list_share": share(in_list),
        "table_share": share(in_table),
        "boiler_share": share(in_boiler),
        "card_share": min(1.0, share(cards)),
        "card_group": math.log1p(largest),
        "page_chars": math.log1p(total),
        "article_tags": math.log1p(articles),
        "forms": math.log1p(forms),
        "inputs": math.log1p(inputs),
        "times": math.log1p(times),
        "code_share": share(in_code),
        "repeat_share": min(1.0, share(repeated)),
        "headings": math.log1p(headings),
        "linked_headings": math.log1p(linked_headings),
        "bylines": math.log1p(bylines),
        "paragraph_share": share(in_paragraph),
        "long_paragraphs": math.log1p(long_paragraphs),
    }


def _text_shape(text: str) -> dict[str, float]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    words = [len(line.split()) for line in lines]
    total = sum(words)
    if not total:
        return {"text_words": 0.0, "words_per_line": 0.0, "long_line_share": 0.0, "sentence_end_share": 0.0}
    long_words = sum(n for n in words if n >= 25)
    ended = sum(n for line, n in zip(lines, words, strict=True) if _SENTENCE_END.search(line))
    return {
        "text_words": math.log1p(total),
        "words_per_line": math.log1p(total / len(lines)),
        "long_line_share": long_words / total,
        "sentence_end_share": ended / total,
    }


def _text_in_links(tree: Any, text: str) -> float:
    """The share of the main text's words on lines that are a link's whole text (a list of
    headlines or products extracted as if it were prose)."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    total = sum(len(line.split()) for line in lines)
    if not total:
        return 0.0
    anchors = {" ".join(str(a.text_content()).split()) for a in tree.iter("a")}
    anchors.discard("")
    linked = sum(len(line.split()) for line in lines if line in anchors or line.lstrip("-*• ") in anchors)
    return linked / total


def _url_shape(url: str) -> dict[str, float]:
    parts = urlsplit(url)
    path = unquote(parts.path or "/").casefold()
    segments = [s for s in path.split("/") if s]
    last = segments[-1] if segments else ""
    last = re.sub(r"\.(?:s?html?|php|aspx?|jsp)$", "", last)
    words = set(_PATH_WORD.findall(path))
    host_words = set((parts.hostname or "").casefold().split(".")[:-2])
    return {
        "url_root": float(not segments and not parts.query),
        "url_depth": float(min(len(segments), 6)),
        "url_slug_words": float(min(len([w for w in re.split(r"[-_+]", last) if w]), 12)),
        "url_query": float(bool(parts.query)),
        "url_date": float(bool(_URL_DATE.search(path + "/"))),
        "url_article_word": float(bool(words & ARTICLE_PATH_WORDS)),
        "url_other_word": float(bool(words & OTHER_PATH_WORDS)),
        "host_article_word": float(bool(host_words & ARTICLE_PATH_WORDS)),
        "host_other_word": float(
            bool(host_words & (OTHER_PATH_WORDS | {"developer", "developers", "learn", "shop"}))
        ),
    }


def page_evidence(tree: Any, url: str, text: str, page_date: bool) -> dict[str, float]:
    """The named signals of one page (see the module docstring); ``text`` is the extracted main
    text, ``page_date`` whether the page's metadata gave a publication date."""
    types = _structured_types(tree)
    og = og_group(_meta(tree, "og:type"))
    body = tree.find(".//body")
    dom = _dom_shares(body if body is not None else tree)
    classes = " ".join(str(c) for c in tree.xpath("//body/@class | //main/@class | //article/@class")[:3])
    evidence: dict[str, float] = {
        "ld_article": float(bool(types & ARTICLE_TYPES)),
        "ld_product": float(bool(types & PRODUCT_TYPES)),
        "ld_list": float(bool(types & LIST_TYPES)),
        "ld_forum": float(bool(types & FORUM_TYPES)),
        "ld_service": float(bool(types & SERVICE_TYPES)),
        "ld_faq": float("faqpage" in types),
        **{f"og_{group}": float(og == group) for group in OG_GROUPS},
        "published_meta": float(page_date),
        "author_meta": float(bool(_meta(tree, "author") or _meta(tree, "article:author"))),
        "h1_count": math.log1p(len(tree.xpath("//h1"))),
        "prices": math.log1p(len(_PRICE.findall(text))),
        "body_class_article": float(any(word in classes.casefold() for word in _ARTICLE_ISH)),
        **dom,
        **_text_shape(text),
        "text_in_links": _text_in_links(tree, text),
        **_url_shape(url),
    }
    return evidence


# -- the model ---------------------------------------------------------------------------------


def linear_score(
    evidence: Mapping[str, float], model: Mapping[str, Any]
) -> tuple[float, list[tuple[str, float]]]:
    """The model's log-odds and each feature's contribution (standardised value times weight)."""
    score = float(model["intercept"])
    parts = []
    for name, weight in model["weights"].items():
        mean, scale = model["scale"][name]
        contribution = weight * (evidence.get(name, 0.0) - mean) / scale
        score += contribution
        parts.append((name, contribution))
    return score, parts


_COUNTS = frozenset(
    [
        "page_chars",
        "card_group",
        "article_tags",
        "forms",
        "inputs",
        "times",
        "h1_count",
        "prices",
        "headings",
        "linked_headings",
        "bylines",
        "long_paragraphs",
        "text_words",
        "words_per_line",
    ]
)
_SHARES = frozenset(
    [
        "link_density",
        "list_share",
        "table_share",
        "boiler_share",
        "card_share",
        "code_share",
        "repeat_share",
        "paragraph_share",
        "long_line_share",
        "sentence_end_share",
        "text_in_links",
    ]
)


def describe(name: str, value: float) -> str:
    """A reader's wording of one signal and its value (counts are stored as log1p)."""
    if name in _COUNTS:
        return f"{name}={math.expm1(value):.0f}"
    if name in _SHARES:
        return f"{name}={value:.0%}"
    if name.startswith(("ld_", "og_", "host_", "published_", "author_", "body_class_")) or name in (
        "url_root",
        "url_query",
        "url_date",
        "url_article_word",
        "url_other_word",
    ):
        return f"{name}={'yes' if value else 'no'}"
    return f"{name}={value:g}"


def decide(evidence: Mapping[str, float], model: Mapping[str, Any], in_feed: bool, top: int = 4) -> Decision:
    """Article or not: the model's log-odds (plus ``FEED_PRIOR`` for feed entries and
    ``DECLARED_MEDIA_PRIOR`` for declared media pages) against its threshold; ``reasons`` are the ``top`` contributions pushing towards the outcome.  A page
    whose main text is mostly link texts (``LINK_LIST_SHARE``) is a list whatever the score."""
    score, parts = linear_score(evidence, model)
    if in_feed:
        score += FEED_PRIOR
    if evidence.get("og_media"):
        score += DECLARED_MEDIA_PRIOR
        parts.append(("og_media", DECLARED_MEDIA_PRIOR))
    threshold = float(model["threshold"])
    links = evidence.get("text_in_links", 0.0)
    if links >= LINK_LIST_SHARE:
        reason = f"{describe('text_in_links', links)} of the main text is the text of links (a list)"
        return Decision(False, score, threshold, (reason,))
    is_article = score >= threshold
    ranked = sorted(parts, key=lambda item: item[1], reverse=is_article)
    reasons = tuple(
        f"{describe(name, evidence.get(name, 0.0))} ({contribution:+.2f})"
        for name, contribution in ranked[:top]
        if (contribution > 0) == is_article
    )
    return Decision(is_article, score, threshold, reasons)


def feature_names(rows: Iterable[Mapping[str, float]]) -> list[str]:
    names: list[str] = []
    for row in rows:
        for name in row:
            if name not in names:
                names.append(name)
    return names
