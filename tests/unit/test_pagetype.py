"""The article decision: evidence from pages, the shipped model, refusals with their reasons."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime

import pytest
from trafilatura.utils import load_html

from transforms import pagetype
from transforms.extract import ArticleRejected, ExtractSettings, build_article, extract_html
from transforms.pagetype_model import MODEL
from transforms.records import Article, FeedEntry

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
SENTENCES = (
    "The council approved the budget after a long debate on Tuesday evening, officials said. "
    "Opposition members argued that the spending plan left too little for road repairs. "
    "The mayor said the vote showed that the city could agree on hard choices. "
)
NAV = "<nav><ul>" + "".join(f'<li><a href="/s/{i}">Section {i}</a></li>' for i in range(12)) + "</ul></nav>"


def article_page(og_type: str = "website") -> str:
    paragraphs = "".join(f"<p>{SENTENCES * 2}</p>" for _ in range(6))
    return (
        f'<html lang="en"><head><title>Council approves budget - City Times</title>'
        f'<meta property="og:type" content="{og_type}"></head><body>{NAV}'
        f"<main><h1>Council approves budget after long debate</h1>{paragraphs}</main>"
        "<footer>City Times</footer></body></html>"
    )


LISTING = (
    '<html><head><title>Local news - City Times</title><meta property="og:type" content="website"></head>'
    f'<body>{NAV}<main><h1>Local news</h1><div class="river">'
    + "".join(
        f'<div class="card"><h3><a href="/news/story-number-{i}">Council story number {i} on budgets and roads '
        f"and what comes next</a></h3><p>Short teaser {i}.</p></div>"
        for i in range(40)
    )
    + "</div></main></body></html>"
)
PRODUCT = (
    "<html><head><title>Trail Runner 2 shoes</title>"
    '<meta property="og:type" content="product">'
    '<script type="application/ld+json">'
    + json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": "Trail Runner 2",
            "offers": {"@type": "Offer", "price": "89.00", "priceCurrency": "USD"},
        }
    )
    + "</script></head><body>"
    f"{NAV}<main><h1>Trail Runner 2</h1><p>$89.00</p>"
    '<form><select name="size"><option>9</option></select><input name="qty" value="1">'
    "<button>Add to cart</button></form>"
    "<p>"
    + "A light shoe with a grippy sole for muddy trails and a soft foam midsole for long runs. " * 6
    + "</p><ul>"
    + "".join(f"<li>Feature {i}: breathable mesh upper</li>" for i in range(8))
    + "</ul></main></body></html>"
)


def entry(url: str, feed_url: str | None = None) -> FeedEntry:
    return FeedEntry(url, url, feed_url, None, NOW)


def outcome(html: str, url: str, feed_url: str | None = None) -> Article | ArticleRejected:
    extracted = extract_html(html, url)
    try:
        return build_article(entry(url, feed_url), extracted, url, NOW, ExtractSettings())[0]
    except ArticleRejected as err:
        return err


def test_the_model_weighs_exactly_the_evidence_pages_give() -> None:
    evidence = pagetype.page_evidence(load_html(article_page()), "https://x.example/a", SENTENCES, False)
    assert set(MODEL["weights"]) == set(evidence) - pagetype.HAND_SET == set(MODEL["scale"])
    assert all(math.isfinite(value) for value in evidence.values())
    assert all(scale > 0 for _mean, scale in MODEL["scale"].values())


def test_og_type_website_alone_never_refuses_an_article() -> None:
    url = "https://citytimes.example/local/council-approves-budget-after-long-debate"
    result = outcome(article_page("website"), url)
    assert isinstance(result, Article), result
    assert isinstance(outcome(article_page("website"), "https://citytimes.example/p?id=7"), Article)


@pytest.mark.parametrize(
    ("html", "url"),
    [
        (LISTING, "https://citytimes.example/local/"),
        (PRODUCT, "https://shop.example/products/trail-runner-2"),
    ],
)
@pytest.mark.parametrize("feed_url", [None, "https://citytimes.example/feed.xml"])
def test_listings_and_products_are_refused_with_their_reasons(
    html: str, url: str, feed_url: str | None
) -> None:
    result = outcome(html, url, feed_url)
    assert isinstance(result, ArticleRejected), result
    assert result.error_type == "not_an_article"
    message = str(result)
    assert message.startswith("not an article (score ")
    contributions = [float(c) for c in re.findall(r"\(([+-]\d+\.\d+)\)", message)]
    assert all(c < 0 for c in contributions)  # every reason speaks against it
    assert contributions or "of the main text is the text of links" in message
    names = re.findall(r"; ?(\w+)=|: (\w+)=", message)
    assert all(name in MODEL["weights"] for pair in names for name in pair if name)


def test_a_feed_entry_needs_stronger_evidence_against_it() -> None:
    evidence = pagetype.page_evidence(load_html(LISTING), "https://citytimes.example/local/", "x", False)
    alone = pagetype.decide(evidence, MODEL, in_feed=False)
    in_feed = pagetype.decide(evidence, MODEL, in_feed=True)
    assert in_feed.score - alone.score == pytest.approx(pagetype.FEED_PRIOR)
    assert in_feed.threshold == alone.threshold == MODEL["threshold"]


@pytest.mark.parametrize(
    "html",
    [
        "<html><body></body></html>",
        "<html><body>" + "<div>" * 5000 + "deep text" + "</div>" * 5000 + "</body></html>",
        '<html><head><script type="application/ld+json">{"@type": [1, {"x": 2}], "@type": "Arti</script>'
        '</head><body><p itemtype="http://schema.org/NewsArticle">x</p></body></html>',
    ],
)
def test_evidence_of_odd_pages_is_finite(html: str) -> None:
    tree = load_html(html)
    assert tree is not None
    evidence = pagetype.page_evidence(tree, "https://x.example/", "", False)
    assert all(math.isfinite(value) for value in evidence.values())
    assert pagetype.page_evidence(tree, "https://x.example/", "", False) == evidence


@pytest.mark.parametrize(
    ("og_type", "group"),
    [
        ("article", "article"),
        ("Article", "article"),
        ("website", "website"),
        ("product.item", "product"),
        ("video.other", "media"),
        (None, "none"),
        ("", "none"),
        ("vanguard offerings", "other"),
    ],
)
def test_og_group(og_type: str | None, group: str) -> None:
    assert pagetype.og_group(og_type) == group
