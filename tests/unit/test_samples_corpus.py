"""The bundled sample corpus: feeds parse, the manifest is exact, planted cases are present."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import feedparser
import pytest

from samples import BASE_URL_PLACEHOLDER, SITE_DIR, generate

MANIFEST: dict[str, Any] = json.loads((SITE_DIR / "manifest.json").read_text(encoding="utf-8"))
ARTICLES: list[dict[str, Any]] = MANIFEST["articles"]
ITEMS: list[dict[str, Any]] = MANIFEST["feed_items"]
FEEDS: list[dict[str, Any]] = [f for p in MANIFEST["publishers"] for f in p["feeds"]]
EXPECTS = {
    "article",
    "tracking_duplicate",
    "canonical_duplicate",
    "http_404",
    "not_an_article",
    "robots_disallowed",
}
SHARED = generate.REPO_ROOT.parent / "shared"


def site_file(link: str) -> Path:
    """The file a feed link maps to (query and fragment ignored, directories -> index.html)."""
    assert link.startswith(BASE_URL_PLACEHOLDER + "/")
    path = urlsplit(link.removeprefix(BASE_URL_PLACEHOLDER)).path
    if path.endswith("/"):
        path += "index.html"
    return SITE_DIR / path.lstrip("/")


def read_page(path: str, encoding: str = "utf-8") -> str:
    return (SITE_DIR / path.lstrip("/")).read_bytes().decode(encoding)


@pytest.mark.parametrize("feed", FEEDS, ids=lambda f: f["path"])
def test_feed_parses_and_matches_manifest(feed: dict[str, Any]) -> None:
    body = (SITE_DIR / feed["path"].lstrip("/")).read_bytes()
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.encoding.lower() == feed["encoding"]
    assert parsed.version == ("atom10" if feed["format"] == "atom" else "rss20")
    mine = [i for i in ITEMS if i["feed"] == feed["path"]]
    assert sorted(e.link for e in parsed.entries) == sorted(i["link"] for i in mine)
    assert sorted(e.id for e in parsed.entries) == sorted(i["guid"] for i in mine)
    for entry in parsed.entries:
        assert entry.title and entry.get("summary")


def test_malformed_feed_is_bozo_without_entries() -> None:
    assert MANIFEST["malformed_feeds"]
    for path in MANIFEST["malformed_feeds"]:
        parsed = feedparser.parse((SITE_DIR / path.lstrip("/")).read_bytes())
        assert parsed.bozo
        assert parsed.entries == []


def test_corpus_size() -> None:
    publishers = MANIFEST["publishers"]
    assert len(publishers) >= 6
    assert len({p["slug"] for p in publishers}) == len(publishers)
    paths = [a["path"] for a in ARTICLES]
    assert len(set(paths)) == len(paths) >= 150
    assert all((SITE_DIR / p.lstrip("/")).is_file() for p in paths)
    dates = {a["published_at"][:10] for a in ARTICLES if a["published_at"]}
    assert len(dates) >= 5
    assert dates <= set(MANIFEST["dates"])
    assert {f["format"] for f in FEEDS} == {"rss2", "atom"}
    assert any(f["encoding"] != "utf-8" for f in FEEDS)
    assert Counter(a["publisher"] for a in ARTICLES).most_common()[-1][1] >= 10
    size = sum(f.stat().st_size for f in SITE_DIR.rglob("*") if f.is_file())
    assert size < 5_000_000


def test_every_feed_item_is_listed_once_with_an_outcome() -> None:
    assert {i["expect"] for i in ITEMS} == EXPECTS
    assert len({(i["feed"], i["guid"]) for i in ITEMS}) == len(ITEMS)
    # each article is the "article" outcome of exactly one feed item
    article_items = Counter(i["article"] for i in ITEMS if i["expect"] == "article")
    assert article_items == Counter(a["id"] for a in ARTICLES)
    # duplicates point at a canonical URL that some "article" item also has
    canonicals = {i["canonical"] for i in ITEMS if i["expect"] == "article"}
    for item in ITEMS:
        if item["expect"].endswith("_duplicate"):
            assert item["canonical"] in canonicals
            assert item["link"] != item["canonical"]


def test_every_link_resolves_except_the_planted_404() -> None:
    for item in ITEMS:
        exists = site_file(item["link"]).is_file()
        assert exists == (item["expect"] != "http_404"), item["link"]


def test_all_absolute_urls_use_the_placeholder() -> None:
    for path in SITE_DIR.rglob("*"):
        if path.suffix in {".html", ".xml", ".atom"}:
            text = path.read_bytes().decode(
                "cp1252" if "continental" in path.name or "continental-post" in path.parts else "utf-8"
            )
            assert not re.search(r"(?:href|src)=\"http", text), path
            assert "<link>http" not in text, path


def test_tracking_duplicates_differ_only_by_tracking_parameters() -> None:
    dups = [i for i in ITEMS if i["expect"] == "tracking_duplicate"]
    assert len(dups) >= 2
    for dup in dups:
        query = urlsplit(dup["link"]).query
        assert "utm_" in query or "fbclid" in query
        assert site_file(dup["link"]) == site_file(dup["canonical"])
    assert len({d["feed"] for d in dups}) >= 2


def test_canonical_duplicate_page_points_at_the_article() -> None:
    dup = next(i for i in ITEMS if i["expect"] == "canonical_duplicate")
    html = read_page(urlsplit(dup["link"].removeprefix(BASE_URL_PLACEHOLDER)).path)
    assert f'<link rel="canonical" href="{dup["canonical"]}">' in html
    assert f'<meta property="og:url" content="{dup["canonical"]}">' in html


def test_not_an_article_pages() -> None:
    items = [i for i in ITEMS if i["expect"] == "not_an_article"]
    assert len(items) >= 1
    for item in items:
        html = site_file(item["link"]).read_text(encoding="utf-8")
        og_type = re.search(r'property="og:type" content="([^"]+)"', html)
        assert og_type and og_type.group(1) != "article"
        prose = " ".join(re.findall(r"<p[^>]*>([^<]*)</p>", html))
        assert len(prose.split()) < 150


def test_robots_disallowed_link() -> None:
    robots = RobotFileParser()
    robots.parse((SITE_DIR / "robots.txt").read_text(encoding="utf-8").splitlines())
    for item in ITEMS:
        url = item["link"].replace(BASE_URL_PLACEHOLDER, "http://127.0.0.1:8000")
        assert robots.can_fetch("newsbeam", url) == (item["expect"] != "robots_disallowed")


def test_wire_groups() -> None:
    groups = MANIFEST["wire_groups"]
    assert len(groups) >= 2
    for name, group in groups.items():
        copies = group["copies"]
        assert len(copies) == 3
        assert len({c["publisher"] for c in copies}) == 3
        assert len({c["title"] for c in copies}) == 3
        assert {c["variant"] for c in copies} == {"verbatim", "last_paragraph_trimmed", "agency_credit"}
        words = {a["path"]: a["words"] for a in ARTICLES if a["wire_group"] == name}
        by_variant = {c["variant"]: words[c["path"]] for c in copies}
        assert by_variant["last_paragraph_trimmed"] < by_variant["verbatim"]
        assert by_variant["agency_credit"] == by_variant["verbatim"] + 4
        credited = next(c for c in copies if c["variant"] == "agency_credit")
        enc = next(a["encoding"] for a in ARTICLES if a["path"] == credited["path"])
        assert "With inputs from agencies" in read_page(credited["path"], enc)


def test_north_korea_story_on_two_publishers_same_day() -> None:
    paths = MANIFEST["stories"]["north-korea-kursk"]
    pair = [a for a in ARTICLES if a["path"] in paths]
    assert len(pair) == 2
    assert len({a["publisher"] for a in pair}) == 2
    assert len({a["published_at"][:10] for a in pair}) == 1
    assert all(a["text_source"] == "seed" and a["kind"] == "normal" for a in pair)


def test_date_evidence_variety() -> None:
    by_source: dict[str, list[dict[str, Any]]] = {}
    for a in ARTICLES:
        by_source.setdefault(a["date_source"], []).append(a)
    assert {"feed", "page", "url", "none"} <= set(by_source)
    undated = {i["article"] for i in ITEMS if i["expect"] == "article" and not i["published"]}
    for source in ("page", "url", "none"):
        assert all(a["id"] in undated for a in by_source[source])
    for a in by_source["url"]:
        assert f"/{a['published_at'][:10].replace('-', '/')}/" in a["path"]
        assert "published_time" not in read_page(a["path"], a["encoding"])
    for a in by_source["none"]:
        assert a["published_at"] is None
        html = read_page(a["path"], a["encoding"])
        assert not re.search(r"20\d\d", html), "undated page must not carry any year"
    for a in by_source["page"]:
        assert "article:published_time" in read_page(a["path"], a["encoding"])


def test_non_utf8_publisher_pages_declare_their_charset() -> None:
    cp = [a for a in ARTICLES if a["encoding"] != "utf-8"]
    assert cp
    for a in cp:
        raw = (SITE_DIR / a["path"].lstrip("/")).read_bytes()
        assert f'<meta charset="{a["encoding"]}">'.encode() in raw
        raw.decode(a["encoding"])


def test_pages_carry_metadata() -> None:
    for a in ARTICLES[:: max(1, len(ARTICLES) // 30)]:
        html = read_page(a["path"], a["encoding"])
        assert re.search(r'<html lang="en', html)
        assert '<link rel="canonical"' in html
        assert 'property="og:type" content="article"' in html
        assert "<title>" in html


def test_extraction_with_trafilatura_finds_text_title_and_date() -> None:
    trafilatura = pytest.importorskip("trafilatura")
    one_per_publisher: dict[str, dict[str, Any]] = {}
    for a in ARTICLES:
        if a["date_source"] == "feed":
            one_per_publisher.setdefault(a["publisher"], a)
    planted = [a for a in ARTICLES if a["date_source"] != "feed"]
    for a in [*one_per_publisher.values(), *planted]:
        html = read_page(a["path"], a["encoding"]).replace(BASE_URL_PLACEHOLDER, "http://127.0.0.1:8000")
        doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
        assert doc.title == a["title"]
        assert doc.date == (a["published_at"][:10] if a["published_at"] else None)
        assert 0.9 <= len(doc.text.split()) / a["words"] <= 1.5
        assert "cookies" not in doc.text.lower()


@pytest.mark.skipif(not (SHARED / "seed").is_dir(), reason="needs ../shared (seed and ECB+ data)")
def test_generator_is_deterministic_and_bundled_site_is_current(tmp_path: Path) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert generate.main(["--out", str(out)]) == 0

    def snapshot(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    first = snapshot(outs[0])
    assert first == snapshot(outs[1])
    assert first == snapshot(SITE_DIR), "samples/site is stale: run python -m samples.generate"
