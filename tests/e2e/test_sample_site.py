"""End to end: the CLI runs the pipeline over the bundled sample site; DuckDB reads it back.

Expectations come from the corpus manifest written by ``samples.generate`` (which knows what
it planted), not from a previous run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from pipelines.query import connect
from samples.server import SampleSite

SITE = Path(__file__).resolve().parents[2] / "samples" / "site"
MANIFEST: dict[str, Any] = json.loads((SITE / "manifest.json").read_text(encoding="utf-8"))
CONFIG = Path(__file__).resolve().parents[2] / "config" / "local.yaml"
FAILURE_OF = {
    "http_404": ("fetch", "http_404"),
    "robots_disallowed": ("fetch", "robots_disallowed"),
    "not_an_article": ("extract", "not_an_article"),
}
DUPLICATES = {"tracking_duplicate": "url", "canonical_duplicate": "canonical"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("out")
    with SampleSite() as site:
        capture = _Capture()
        with capture:
            status = main(
                [
                    "run",
                    "--config",
                    str(CONFIG),
                    "--once",
                    "--output",
                    str(output),
                    "--feeds-base-url",
                    site.base_url,
                ]
            )
        base = site.base_url
    assert status == 0
    return {"output": output, "summary": capture.text, "base": base, "db": connect(output)}


class _Capture:
    def __enter__(self) -> None:
        import contextlib
        import io

        self._buffer = io.StringIO()
        self._redirect = contextlib.redirect_stdout(self._buffer)
        self._redirect.__enter__()

    def __exit__(self, *args: object) -> None:
        self._redirect.__exit__(*args)  # type: ignore[arg-type]
        self.text = self._buffer.getvalue()


def _count(summary: str, label: str) -> int:
    match = re.search(rf"^\s+{label}\s+(\d+)", summary, re.MULTILINE)
    assert match, f"{label!r} missing from summary:\n{summary}"
    return int(match.group(1))


def _expected() -> Counter[str]:
    return Counter(item["expect"] for item in MANIFEST["feed_items"])


def test_one_row_per_expected_article(run: dict[str, Any]) -> None:
    rows = (
        run["db"]
        .sql("SELECT count(*), count(DISTINCT canonical_url), count(DISTINCT article_id) FROM articles")
        .fetchall()[0]
    )
    assert rows == (_expected()["article"],) * 3


def test_partitions_follow_published_dates(run: dict[str, Any]) -> None:
    published = {
        item["canonical"].replace("{{BASE_URL}}", run["base"]): item["published"][:10]
        for item in MANIFEST["feed_items"]
        if item["expect"] == "article" and item["published"]
    }
    rows = run["db"].sql("SELECT canonical_url, date::VARCHAR, date_source FROM articles").fetchall()
    by_url = {url: (day, source) for url, day, source in rows}
    for url, day in published.items():
        assert by_url[url] == (day, "feed"), url
    dates = {day for day, _ in by_url.values()}
    assert set(MANIFEST["dates"]) <= dates
    # pages whose feed item has no date are dated from the page or the URL, else first_seen_at
    undated = [v for u, v in by_url.items() if u not in published]
    assert undated
    assert {source for _, source in undated} <= {"page", "url", "none"}


def test_tracking_and_canonical_duplicates_dropped(run: dict[str, Any]) -> None:
    for item in MANIFEST["feed_items"]:
        if item["expect"] in DUPLICATES:
            canonical = item["canonical"].replace("{{BASE_URL}}", run["base"])
            count = (
                run["db"]
                .sql("SELECT count(*) FROM articles WHERE canonical_url = ?", params=[canonical])
                .fetchall()[0]
            )
            assert count == (1,), canonical
    summary = run["summary"]
    expected = _expected()
    assert (
        _count(summary, "duplicates dropped")
        == expected["tracking_duplicate"] + expected["canonical_duplicate"]
    )


def test_broken_cases_are_failures_with_stage_and_type(run: dict[str, Any]) -> None:
    rows = run["db"].sql("SELECT stage, error_type, url FROM failures").fetchall()
    got = Counter((stage, error_type) for stage, error_type, _ in rows)
    want = Counter(
        FAILURE_OF[item["expect"]] for item in MANIFEST["feed_items"] if item["expect"] in FAILURE_OF
    )
    want.update({("feed", "malformed_feed"): len(MANIFEST["malformed_feeds"])})
    assert got == want
    reasons = re.search(r"failure reasons\s+(.*)$", run["summary"], re.MULTILINE)
    assert reasons
    counted = Counter(
        {
            tuple(r.rsplit(" ", 1)[0].split("/")): int(r.rsplit(" ", 1)[1])
            for r in reasons.group(1).split(", ")
        }
    )
    assert counted == got  # the summary's counters agree with the rows written
    malformed = {url for stage, _, url in rows if stage == "feed"}
    assert malformed == {run["base"] + path for path in MANIFEST["malformed_feeds"]}


def test_every_entry_is_accounted_for(run: dict[str, Any]) -> None:
    summary = run["summary"]
    entries = _count(summary, "entries")
    assert entries == len(MANIFEST["feed_items"])
    articles = run["db"].sql("SELECT count(*) FROM articles").fetchall()[0][0]
    # Feed failures are not entries; entity failures annotate an article that is still written.
    entry_failures = (
        run["db"]
        .sql("SELECT count(*) FROM failures WHERE stage NOT IN ('feed', 'entities')")
        .fetchall()[0][0]
    )
    assert articles + _count(summary, "duplicates dropped") + entry_failures == entries
    assert "every entry is an article, a duplicate or a failure" in summary
    assert _count(summary, "rows written") == articles


def test_north_korea_versions_are_both_articles(run: dict[str, Any]) -> None:
    paths = MANIFEST["stories"]["north-korea-kursk"]
    rows = (
        run["db"]
        .sql(
            "SELECT publisher, title, text FROM articles WHERE canonical_url IN (SELECT unnest(?))",
            params=[[run["base"] + p for p in paths]],
        )
        .fetchall()
    )
    assert len(rows) == 2
    assert len({publisher for publisher, _, _ in rows}) == 2
    assert all("Shoigu" in text for _, _, text in rows)


def test_north_korea_versions_share_a_story_and_nothing_unrelated_joins_it(run: dict[str, Any]) -> None:
    urls = [run["base"] + p for p in MANIFEST["stories"]["north-korea-kursk"]]
    stories = {
        story
        for (story,) in run["db"]
        .sql("SELECT story_id FROM articles WHERE canonical_url IN (SELECT unnest(?))", params=[urls])
        .fetchall()
    }
    assert len(stories) == 1 and None not in stories
    members = run["db"].sql("SELECT canonical_url FROM articles WHERE story_id = ?", params=[stories.pop()])
    assert sorted(url for (url,) in members.fetchall()) == sorted(urls)


def test_wire_copies_point_to_one_canonical_and_nothing_else_is_a_near_duplicate(run: dict[str, Any]) -> None:
    db = run["db"]
    marked = 0
    for name, group in MANIFEST["wire_groups"].items():
        urls = [run["base"] + copy["path"] for copy in group["copies"]]
        rows = db.sql(
            "SELECT article_id, duplicate_of FROM articles WHERE canonical_url IN (SELECT unnest(?))",
            params=[urls],
        ).fetchall()
        assert len(rows) == len(urls), name
        canonical = [article_id for article_id, duplicate_of in rows if duplicate_of is None]
        assert len(canonical) == 1, name
        assert all(dup in (None, canonical[0]) for _, dup in rows), name
        marked += len(rows) - 1
    total = db.sql("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL").fetchall()[0][0]
    assert total == marked  # no false positive anywhere else in the corpus


def test_every_article_has_a_language_and_entities(run: dict[str, Any]) -> None:
    untagged = (
        run["db"].sql("SELECT count(*) FROM articles WHERE language IS NULL OR entities IS NULL").fetchall()
    )
    assert untagged == [(0,)]
    people = {
        key
        for (key,) in run["db"]
        .sql(
            "SELECT DISTINCT e.key FROM (SELECT unnest(entities) AS e FROM articles "
            "WHERE title LIKE 'North Korea%') WHERE e.label = 'PERSON'"
        )
        .fetchall()
    }
    assert {"kim jong un", "sergei shoigu"} <= people


def test_boilerplate_is_not_in_the_text(run: dict[str, Any]) -> None:
    leaked = (
        run["db"]
        .sql(
            "SELECT count(*) FROM articles WHERE text ILIKE '%accept all cookies%' OR text ILIKE '%all rights reserved%'"
        )
        .fetchall()[0]
    )
    assert leaked == (0,)


def test_non_utf8_publisher_text_is_decoded(run: dict[str, Any]) -> None:
    rows = run["db"].sql("SELECT text FROM articles WHERE publisher = 'The Continental Post'").fetchall()
    assert rows
    assert not any("\ufffd" in text or "Ã" in text for (text,) in rows)
