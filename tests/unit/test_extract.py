from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from trafilatura.utils import load_html

from transforms.extract import (
    ArticleRejected,
    ExtractSettings,
    build_article,
    choose_text,
    choose_title,
    clean_text,
    content_hash,
    date_from_url,
    extract_html,
    is_plausible,
    is_site_name,
    page_title,
    parse_datetime,
    resolve_published,
    strip_site_name,
    title_overlap,
)
from transforms.records import Extracted, FeedEntry

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
PARAGRAPH = (
    "Officials said the agreement would be signed next week in Geneva after months of "
    "negotiations between the two delegations, according to people familiar with the talks. "
)
PAGE = f"""<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Talks end in Geneva | The Ledger</title>
<link rel="canonical" href="https://ledger.example/world/2025/06/17/geneva-talks.html">
<meta property="og:type" content="article">
<meta property="article:published_time" content="2025-06-17T08:30:00+02:00">
<meta name="author" content="Jane Doe"><meta name="keywords" content="diplomacy, Geneva">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<div class="cookie">We use cookies to improve your experience. Accept all cookies?</div>
<article><h1>Talks end in Geneva</h1>
<p>{PARAGRAPH * 4}</p><p>{PARAGRAPH * 3}</p></article>
<aside><h3>Related</h3><ul><li><a href="/a">Other story one</a></li></ul></aside>
<footer>Copyright The Ledger. All rights reserved.</footer></body></html>"""


def entry(**changes: object) -> FeedEntry:
    base = FeedEntry(
        link="https://ledger.example/world/2025/06/17/geneva-talks.html?utm_source=rss",
        url="https://ledger.example/world/2025/06/17/geneva-talks.html",
        feed_url="https://ledger.example/feed.xml",
        publisher="The Ledger",
        first_seen_at=NOW,
        title="Feed title",
    )
    return base.__class__(**{**base.__dict__, **changes})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-17T08:30:00+0200", datetime(2025, 6, 17, 6, 30, tzinfo=UTC)),
        ("2025-06-17T08:30:00Z", datetime(2025, 6, 17, 8, 30, tzinfo=UTC)),
        ("2025-06-17", datetime(2025, 6, 17, tzinfo=UTC)),
        ("2025-06-17T08:30:00", datetime(2025, 6, 17, 8, 30, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_datetime(text: str | None, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def test_date_from_url() -> None:
    assert date_from_url("https://x.org/world/2025/06/15/a.html") == datetime(2025, 6, 15, tzinfo=UTC)
    assert date_from_url("https://x.org/news/2025-06-15/a.html") == datetime(2025, 6, 15, tzinfo=UTC)
    assert date_from_url("https://x.org/news/2025/13/45/a.html") is None
    assert date_from_url("https://x.org/news/a.html") is None


def test_date_from_url_reads_month_names() -> None:
    assert date_from_url("https://x.org/world/2019/nov/18/a") == datetime(2019, 11, 18, tzinfo=UTC)
    assert date_from_url("https://x.org/stories/2019/Nov/9/a") == datetime(2019, 11, 9, tzinfo=UTC)
    assert date_from_url("https://x.org/2019/foo/18/a") is None
    assert date_from_url("https://x.org/2019/feb/30/a") is None


def test_plausibility_rejects_future_and_pre_web_dates() -> None:
    assert is_plausible(datetime(2025, 6, 17, tzinfo=UTC), NOW)
    assert not is_plausible(NOW + timedelta(days=3), NOW)
    assert not is_plausible(datetime(1994, 12, 31, tzinfo=UTC), NOW)
    assert is_plausible(datetime(1995, 1, 1, tzinfo=UTC), NOW)


def test_resolve_published_prefers_feed_then_page_then_url() -> None:
    feed = datetime(2025, 6, 17, 9, tzinfo=UTC)
    page = datetime(2025, 6, 17, 8, tzinfo=UTC)
    url = "https://x.org/2025/06/16/a.html"
    assert resolve_published(feed, page, url, NOW) == (feed, "feed", [])
    assert resolve_published(None, page, url, NOW) == (page, "page", [])
    assert resolve_published(None, None, url, NOW)[:2] == (datetime(2025, 6, 16, tzinfo=UTC), "url")
    assert resolve_published(None, None, "https://x.org/a.html", NOW) == (None, "none", [])


def test_resolve_published_skips_implausible_candidates() -> None:
    future = NOW + timedelta(days=30)
    ancient = datetime(1970, 1, 1, tzinfo=UTC)
    page = datetime(2025, 6, 17, 8, tzinfo=UTC)
    assert resolve_published(future, page, "https://x.org/a", NOW) == (page, "page", ["feed"])
    assert resolve_published(ancient, None, "https://x.org/a", NOW) == (None, "none", ["feed"])


def test_extract_html_keeps_main_text_and_metadata() -> None:
    extracted = extract_html(
        PAGE.encode("utf-8"), "https://ledger.example/world/2025/06/17/geneva-talks.html"
    )
    assert extracted.title == "Talks end in Geneva"
    assert extracted.text is not None
    assert "negotiations between the two delegations" in extracted.text
    assert "cookies" not in extracted.text
    assert "All rights reserved" not in extracted.text
    assert extracted.language == "en"
    assert extracted.authors == ("Jane Doe",)
    assert extracted.published_at == datetime(2025, 6, 17, 6, 30, tzinfo=UTC)
    assert extracted.canonical_url == "https://ledger.example/world/2025/06/17/geneva-talks.html"
    assert "Geneva" in extracted.tags


def test_extract_html_reads_declared_non_utf8_encoding() -> None:
    page = PAGE.replace('charset="utf-8"', 'charset="windows-1252"').replace("Geneva</h1>", "Genève</h1>")
    extracted = extract_html(page.encode("windows-1252"), "https://ledger.example/a.html")
    assert extracted.title == "Talks end in Genève"


def test_build_article_merges_feed_and_page() -> None:
    extracted = extract_html(PAGE.encode("utf-8"), entry().link)
    article, rejected = build_article(entry(), extracted, entry().link, NOW, ExtractSettings())
    assert rejected == []
    assert article.canonical_url == "https://ledger.example/world/2025/06/17/geneva-talks.html"
    assert article.url == entry().url
    assert article.source_domain == "ledger.example"
    assert article.date_source == "page"
    assert article.word_count > 50
    assert article.content_hash == content_hash(article.text)
    assert article.duplicate_of is None and article.story_id is None and article.entities is None


def test_build_article_uses_feed_fields_for_gaps() -> None:
    published = datetime(2025, 6, 17, 9, tzinfo=UTC)
    extracted = Extracted(text=PARAGRAPH * 5)
    article, _ = build_article(
        entry(published_at=published, language="en"), extracted, entry().link, NOW, ExtractSettings()
    )
    assert article.title == "Feed title"
    assert article.published_at == published and article.date_source == "feed"
    assert article.language == "en"


@pytest.mark.parametrize(
    ("extracted", "error_type"),
    [
        (Extracted(text=""), "no_text"),
        (Extracted(text=None), "no_text"),
        (Extracted(text="Just a caption."), "too_short"),
    ],
)
def test_build_article_rejects_non_articles(extracted: Extracted, error_type: str) -> None:
    with pytest.raises(ArticleRejected) as raised:
        build_article(entry(), extracted, entry().link, NOW, ExtractSettings())
    assert raised.value.error_type == error_type


def test_given_short_text_is_an_article_but_a_short_page_is_not() -> None:
    brief = Extracted(title="Brief", text="The bridge reopened on Monday after repairs.")
    article, _ = build_article(entry(), brief, entry().link, NOW, ExtractSettings(), given_text=True)
    assert (article.text, article.word_count) == (brief.text, 7)
    with pytest.raises(ArticleRejected) as raised:
        build_article(entry(), brief, entry().link, NOW, ExtractSettings())
    assert raised.value.error_type == "too_short"
    with pytest.raises(ArticleRejected) as raised:
        build_article(entry(), Extracted(text="  "), entry().link, NOW, ExtractSettings(), given_text=True)
    assert raised.value.error_type == "no_text"


def test_a_canonical_url_naming_the_site_root_is_not_the_article_url() -> None:
    extracted = Extracted(text=PARAGRAPH * 5, canonical_url="https://cdn.example/")
    article, _ = build_article(entry(), extracted, entry().link, NOW, ExtractSettings())
    assert article.canonical_url == "https://ledger.example/world/2025/06/17/geneva-talks.html"


def test_content_hash_ignores_case_and_whitespace() -> None:
    assert content_hash("A  b\nC") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b d")


@pytest.mark.parametrize(
    ("segment", "host", "names", "expected"),
    [
        ("CBC News", "www.cbc.ca", set(), True),
        ("CBSSports.com", "www.cbssports.com", set(), True),
        ("9to5Mac", "9to5mac.com", set(), True),
        ("Connecticut Post", "www.ctpost.com", {"connecticut post"}, True),
        ("Connecticut Post", "www.ctpost.com", set(), False),
        ("World", "www.express.co.uk", set(), False),
        ("Sky News", "news.sky.com", set(), True),
        ("UK News", "news.sky.com", set(), False),
        ("Talks end in Geneva after a long week of hard bargaining", "geneva.example", set(), False),
    ],
)
def test_is_site_name(segment: str, host: str, names: set[str], expected: bool) -> None:
    assert is_site_name(segment, host, names) is expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Snow closes roads | CBC News", "Snow closes roads"),
        ("Snow closes roads - The Ledger", "Snow closes roads"),
        ("CBC News - Snow closes roads", "Snow closes roads"),
        ("Snow closes roads | World | CBC News", "Snow closes roads"),
        ("Climate Change | ERS", "Climate Change"),
        ("Snow closes roads | Python, SQL &amp; AI", "Snow closes roads"),
        ("Opinion | Snow closes roads across the north", "Opinion | Snow closes roads across the north"),
        ("Snow: what to expect", "Snow: what to expect"),
        ("Snow closes roads", "Snow closes roads"),
    ],
)
def test_strip_site_name(title: str, expected: str) -> None:
    assert strip_site_name(title, "www.cbc.ca", {"the ledger"}) == expected


def test_title_overlap_counts_shared_words_over_the_longer_title() -> None:
    assert title_overlap("High School Roundup: Viera wins", "HS Roundup: Viera wins") == pytest.approx(3 / 5)
    assert title_overlap("The Ledger", "Snow closes roads") == 0.0
    assert title_overlap("", "Snow") == 0.0


def test_choose_title_prefers_an_h1_that_agrees_with_the_metadata() -> None:
    references = ["Snow closes roads in the north | CBC News", "Snow closes roads - CBC News"]
    h1s = ["CBC News", "Snow closes roads across the north", "Sign up for our newsletter"]
    assert choose_title(h1s, references, "www.cbc.ca", set()) == "Snow closes roads across the north"


def test_choose_title_takes_the_visible_headline_over_a_different_metadata_title() -> None:
    # sites write a search-engine title in their metadata; the h1 is what readers see
    references = ["Best Apps to Learn a Language in 2025 \u2013 Top 10 Picks"]
    h1s = ["Top 10: Best Language Learning App (tested by experts)"]
    assert choose_title(h1s, references, "x.example", set()) == h1s[0]
    assert choose_title(["Our BLOG"], ["Actuary's Industry Choice"], "x.example", set()) == (
        "Actuary's Industry Choice"
    )


def test_choose_title_unescapes_entities_and_never_gives_the_site_name_alone() -> None:
    assert choose_title([], ["Mountaineering&#39;s history | Alpine Club"], "x.example", set()) == (
        "Mountaineering's history"
    )
    # the site's name alone is no title: None, and the stage falls back to the feed's title
    assert choose_title(["Integralist"], ["Integralist"], "www.integralist.co.uk", set()) is None
    assert choose_title([], ["Home"], "x.example", {"home"}, fallback="X.example") is None
    article, _ = build_article(
        entry(title="Go concurrency patterns"),
        Extracted(title=None, text=PARAGRAPH * 5),
        entry().link,
        NOW,
        ExtractSettings(),
    )
    assert article.title == "Go concurrency patterns"
    assert choose_title(["Integralist", "Go concurrency patterns"], [], "www.integralist.co.uk", set()) == (
        "Go concurrency patterns"
    )


def test_choose_title_falls_back_to_the_metadata_title_without_site_name() -> None:
    # the only h1 is a widget's: nothing in common with the metadata titles
    assert choose_title(
        ["Join our parlay challenge"], ["Snow closes roads | CBC News"], "www.cbc.ca", set()
    ) == ("Snow closes roads")
    assert choose_title([], [], "www.cbc.ca", set(), fallback="Snow | CBC News") == "Snow"
    assert choose_title([], [], "www.cbc.ca", set()) is None


def test_page_title_reads_h1_og_title_and_site_name() -> None:
    page = (
        "<html><head><title>Roads shut by snow - Northern Star</title>"
        '<meta property="og:title" content="Roads shut by snow - Northern Star">'
        '<meta property="og:site_name" content="Northern Star"></head>'
        "<body><h1>Northern Star</h1><article><h1>Roads shut by heavy snow</h1><p>Text.</p></article>"
        "</body></html>"
    )
    assert page_title(load_html(page), "https://star.example/a", None) == "Roads shut by heavy snow"
    no_h1 = page.replace("<h1>Roads shut by heavy snow</h1>", "").replace("<h1>Northern Star</h1>", "")
    assert page_title(load_html(no_h1), "https://star.example/a", None) == "Roads shut by snow"


def test_clean_text_drops_teasers_for_other_articles() -> None:
    text = "The pier opened.\nRead more: Storm closes the harbour\nRELATED - Ferry fares rise\nEnd."
    assert clean_text(text, []) == "The pier opened.\nEnd."
    # a sentence that only mentions such words stays
    kept = "Related: the council said more work is needed.\nShe said: read more books."
    assert clean_text(kept, []) == kept


def test_clean_text_drops_headline_and_bare_url_or_timestamp_lines() -> None:
    text = "Snow closes roads\nThe roads closed.\nhttps://x.org/a\n2019-11-19T08:57:40+01:00\nSnow closes roads\nEnd."
    assert clean_text(text, ["Snow closes roads"]) == "The roads closed.\nEnd."
    assert clean_text("Visit https://x.org/a for more.", []) == "Visit https://x.org/a for more."


def test_choose_text_keeps_precision_text_only_when_it_kept_enough() -> None:
    default = "a" * 100
    assert choose_text(default, "b" * 60) == "b" * 60
    assert choose_text(default, "b" * 40) == default
    assert choose_text(default, "") == default


def test_extract_html_strips_site_name_and_headline_line() -> None:
    page = PAGE.replace(
        "<title>Talks end in Geneva | The Ledger</title>", "<title>Talks end | The Ledger</title>"
    )
    extracted = extract_html(
        page.encode("utf-8"), "https://ledger.example/world/2025/06/17/geneva-talks.html"
    )
    assert extracted.title == "Talks end in Geneva"
    assert extracted.text is not None
    assert not extracted.text.startswith("Talks end in Geneva")


@pytest.mark.parametrize("precision_pass", [True, False])
def test_extract_html_keeps_text_with_and_without_precision_pass(precision_pass: bool) -> None:
    extracted = extract_html(PAGE, "https://ledger.example/a.html", precision_pass=precision_pass)
    assert extracted.text is not None
    assert "negotiations between the two delegations" in extracted.text


def test_a_date_found_in_the_text_comes_after_the_url_and_is_recorded_as_a_guess() -> None:
    page = (
        "<html><head><title>Fact check</title></head><body><article><h1>Fact check</h1>"
        "<p>The claim that the bridge would close for a year was made by a council member during"
        " a long meeting about the budget, and it spread quickly on social media afterwards.</p>"
        '<p>It was made on <time datetime="2019-10-13">Oct 13</time> and has since been'
        " corrected by the council in a written statement to residents of the district.</p>"
        "</article></body></html>"
    )
    extracted = extract_html(page, "https://x.org/fact-check/")
    assert extracted.published_at is None
    assert extracted.guessed_at == datetime(2019, 10, 13, tzinfo=UTC)
    guessed = extracted.guessed_at
    assert resolve_published(None, None, "https://x.org/fact-check/", NOW, guessed) == (guessed, "guess", [])
    in_url = datetime(2019, 11, 18, tzinfo=UTC)
    assert resolve_published(None, None, "https://x.org/2019/nov/18/c/", NOW, guessed) == (in_url, "url", [])
    page_time = datetime(2019, 11, 17, 9, tzinfo=UTC)
    assert resolve_published(None, page_time, "https://x.org/c/", NOW, guessed) == (page_time, "page", [])


def test_an_article_swallowed_by_an_unclosed_aside_is_still_extracted() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {i} of the report: the harbour authority said the new pier would open to"
        " ferries in the spring, after two years of work and a long dispute over its cost.</p>"
        for i in range(6)
    )
    page = (
        "<html><head><title>Pier opens</title></head><body>"
        '<aside class="Popup"><div><h2>Subscribe</h2>'  # never closed: the rest is inside it
        f"<header><article><h1>Pier opens</h1>{paragraphs}</article>"
        "</body></html>"
    )
    extracted = extract_html(page, "https://harbour.example/pier-opens")
    assert extracted.text is not None
    assert "Paragraph 5 of the report" in extracted.text
