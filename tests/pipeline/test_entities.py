"""IdentifyLanguage and TagEntities inside a TestPipeline, with the real spaCy model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

import transforms.entities
from tests.factories import make_article
from transforms.entities import EntitySettings, TagEntities
from transforms.extract import extract_html
from transforms.language import IdentifyLanguage
from transforms.records import Article

NOW = datetime(2025, 6, 20, tzinfo=UTC)
SITE = Path(__file__).parents[2] / "samples" / "site"
# The Time of India article of ../shared/seed/aggregator-page.txt, as bundled in the sample site.
SEED_TOI = SITE / "daily-ledger/2025/06/18/north-korea-plans-to-send-military-construction-workers-and.html"
GERMAN = (
    "Der Stadtrat hat am Dienstag in Berlin den neuen Haushalt beschlossen. Bürgermeisterin Anna "
    "Schmidt sagte, die Stadt werde mehr Geld für Schulen und Straßen ausgeben. "
) * 5


def huge_article() -> Article:
    return make_article("Kim Jong Un visited Pyongyang. " * 170_000, "https://ex.org/huge")


def keys_by_url(articles: Iterable[Article]) -> dict[str, set[str] | None]:
    return {a.url: None if a.entities is None else {e.key for e in a.entities} for a in articles}


def labels_by_form(article: Article) -> dict[str, set[tuple[str, str]]]:
    """``text -> {(key, label)}`` of an article's entities."""
    found: dict[str, set[tuple[str, str]]] = {}
    for entity in article.entities or ():
        found.setdefault(entity.text, set()).add((entity.key, entity.label))
    return found


def test_seed_article_non_english_and_pathological_texts() -> None:
    seed = extract_html(SEED_TOI.read_bytes(), "https://ex.org/toi")
    assert seed.text
    inputs = [
        make_article(seed.text, "https://ex.org/toi", title=seed.title),
        make_article(GERMAN, "https://ex.org/de", language=None, title="Haushalt beschlossen"),
        make_article("", "https://ex.org/empty"),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        # The ~5 MB text is made inside the pipeline: in a Create it would be pickled into the graph.
        huge = p | "One" >> beam.Create([None]) | beam.Map(lambda _: huge_article())
        languages = (huge, p | beam.Create(inputs)) | beam.Flatten() | IdentifyLanguage()
        tagged = languages | TagEntities(EntitySettings(max_chars=100_000, batch_size=4))

        def check(articles: list[Article]) -> None:
            found = keys_by_url(articles)
            assert set(found) == {a.url for a in inputs} | {"https://ex.org/huge"}, "an article was lost"
            toi = found["https://ex.org/toi"]
            assert toi is not None
            assert {"kim jong un", "sergei shoigu", "kursk", "pyongyang", "russia"} <= toi
            # The targets on the seed article, with the default model and rules: the
            # people are persons, Kursk (the region, not the submarine) and Pyongyang are places,
            # and the short names group with the full ones.
            forms = labels_by_form(next(a for a in articles if a.url == "https://ex.org/toi"))
            assert forms["Kim Jong Un"] == {("kim jong un", "PERSON")}
            assert forms["Kim"] == {("kim jong un", "PERSON")}
            assert forms["Sergei Shoigu"] == {("sergei shoigu", "PERSON")}
            assert forms["Shoigu"] == {("sergei shoigu", "PERSON")}
            assert forms["Kursk"] == {("kursk", "GPE")}
            assert forms["Pyongyang"] == {("pyongyang", "GPE")}
            assert found["https://ex.org/de"] is None  # German: no model configured, no entities
            assert {a.url: a.language for a in articles}["https://ex.org/de"] == "de"
            assert found["https://ex.org/huge"] == {"kim jong un", "pyongyang"}
            assert found["https://ex.org/empty"] == set()

        assert_that(tagged.articles, check, label="articles")
        assert_that(tagged.failures, equal_to([]), label="no failures")


class _CrashingNlp:
    def pipe(self, texts: Iterable[str], batch_size: int = 1) -> Iterator[Any]:
        for text in texts:
            if "crash" in text:
                raise RuntimeError("tagger crashed")
            yield type("Doc", (), {"ents": []})()


def test_a_text_that_crashes_the_tagger_is_a_failure_and_the_article_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FnApiRunner runs the workers in this process, so the patched loader is the one used.
    monkeypatch.setattr(transforms.entities, "load_pipeline", lambda name: _CrashingNlp())
    settings = EntitySettings(models=(("en", "crashing-test-model"),))
    inputs = [
        make_article("fine text", "https://ex.org/ok"),
        make_article("this will crash", "https://ex.org/bad"),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        tagged = p | beam.Create(inputs) | TagEntities(settings)
        assert_that(
            tagged.articles | beam.Map(lambda a: (a.url, a.entities)),
            equal_to([("https://ex.org/ok", ()), ("https://ex.org/bad", None)]),
            label="articles",
        )
        assert_that(
            tagged.failures | beam.Map(lambda f: (f.stage, f.url, f.error_type)),
            equal_to([("entities", "https://ex.org/bad", "tagger_error")]),
            label="failures",
        )
