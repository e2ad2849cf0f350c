"""Stage 4c, ``AssignStories``: each article joins the story of its best earlier match.

A story is one real-world event covered by several outlets in different words.  The similarity
model (article vectors, blocking keys, the learned link score, the join decision) is
``transforms.story_model``; this module is the stage, ``transforms.keyed``'s probe/decide::

    Article ─ 'Sign for stories' ─┬─ entries ─ 'Probe blocking keys' ─ links ─┐
                                  │   (shard of blocking keys)                ├─ 'Decide stories' ─ Article
                                  └─ the article itself ──────────────────────┘  (keyed by article)

* **Sign.**  The article's ``StoryVector`` (a few hundred bytes, no text) goes under each of its
  blocking keys (its rarest entities and terms), hashed into ``2**key_bits`` stage keys; an
  article with no blocking key starts its own story.
* **Probe blocking keys.**  Two articles sharing a blocking key, seen within the model's
  ``window_hours`` of each other, are scored (``link_score``) in the first blocking key they
  share only; a score reaching the model's sole threshold (``sole_join_threshold``, at most the
  join threshold) is a link from the later article to the earlier one.
* **Decide stories.**  ``choose_parent`` of the article's links: ``story_id`` = its parent (the
  best-scoring earlier article, if it reaches the join threshold or is the article's only link)
  and ``story_score`` = the score; with no parent the article starts a story (``story_id`` = its
  own id, no score).

The story of an article is the *root* of its parent chain: the ``articles`` view and ``newsbeam
compact`` follow ``story_id`` to the root (``pipelines/sql/views.sql``), so raw rows name the
parent and queries see the root.  ``reference_links`` is the stage as a plain loop.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

from transforms import keyed, metrics
from transforms.keyed import Edge, Stored
from transforms.records import Article
from transforms.story_model import StoryModelSettings, blocking_keys, choose_parent, link_score, story_vector
from transforms.story_vectors import StoryVector

LINK = 1  # the edge kind of this stage
HOUR_US = 3600 * keyed.SECOND_US
DECIDE, OWN_STORY = "decide", "own_story"


@dataclass(frozen=True)
class StorySettings:
    """The stage: the model's settings, how late an article may arrive behind a blocking key's
    newest member and still be compared with what the key holds, and the number of stage keys
    (``2**key_bits``) blocking keys are hashed into (see ``NearDupSettings.key_bits``: more keys,
    smaller ones, pruned less often)."""

    model: StoryModelSettings = field(default_factory=StoryModelSettings)
    allowed_lateness_hours: float = 24.0  # math.inf: arrivals in any order (bounded input), nothing pruned
    key_bits: int = 12

    def __post_init__(self) -> None:
        if self.allowed_lateness_hours < 0:
            raise ValueError("allowed_lateness_hours must not be negative")
        if not 0 <= self.key_bits <= 24:
            raise ValueError("key_bits must be within [0, 24]")


def stage_key(blocking_key: str, key_bits: int) -> str:
    """The stage key a blocking key is hashed into: blocking keys spread evenly over the
    ``2**key_bits`` stage keys (``keyed.shard`` reads a fine key's last bytes, which in a
    blocking key's text are a few hex digits, so the text is hashed first)."""
    if not key_bits:
        return "s:0"
    return f"s:{keyed.shard(hashlib.blake2b(blocking_key.encode(), digest_size=8).digest(), key_bits):x}"


@lru_cache(maxsize=1 << 14)  # pure functions of the stored bytes: memos, not state
def _vector(payload: bytes) -> StoryVector:
    return StoryVector.from_bytes(payload)


@lru_cache(maxsize=1 << 14)
def _keys(payload: bytes, settings: StoryModelSettings) -> frozenset[str]:
    return frozenset(blocking_keys(_vector(payload), settings))


class StoryComparison:
    """``keyed.Comparison`` for blocking keys: a link when the score reaches the sole threshold
    (every score ``choose_parent`` may use)."""

    def __init__(self, settings: StorySettings) -> None:
        self.settings = settings
        self.reach_us = round(settings.model.window_hours * HOUR_US) + 1  # the window is inclusive
        hours = settings.allowed_lateness_hours
        self.lateness_us = None if math.isinf(hours) else round(hours * HOUR_US)

    def setup(self) -> None:
        pass

    def compare(self, key: str, earlier: Stored, later: Stored) -> Edge | None:
        model = self.settings.model
        shared = _keys(earlier.payload, model) & _keys(later.payload, model)
        if earlier.tag.decode() != min(shared, default=""):
            return None  # scored in the first blocking key the two share
        score = link_score(_vector(later.payload), _vector(earlier.payload), model)
        if score < model.sole_join_threshold:
            return None
        return Edge(LINK, earlier.article_id, earlier.ts, score)


def parent_link(edges: Sequence[Edge], settings: StorySettings) -> Edge | None:
    """The parent link (``choose_parent``): the best score, then the earliest ``(ts, article_id)``,
    if it reaches the join threshold or is the only link."""
    parent, _ = choose_parent([(e.other_id, e.other_ts, e.score) for e in edges], settings.model)
    return next(
        (e for e in sorted(edges, key=lambda e: (-e.score, e.other_ts)) if e.other_id == parent), None
    )


class StoryDecision:
    """``keyed.Decision``: ``story_id``/``story_score`` from the article's links."""

    def __init__(self, settings: StorySettings) -> None:
        self.settings = settings

    def setup(self) -> None:
        self._joined = metrics.counter("stories_joined")
        self._started = metrics.counter("stories_started")

    def decide(self, article: Article, edges: Sequence[Edge]) -> Article:
        best = parent_link(edges, self.settings)
        if best is None:
            self._started.inc()
            return replace(article, story_id=article.article_id, story_score=None)
        self._joined.inc()
        return replace(article, story_id=best.other_id, story_score=round(best.score, 4))


def reference_links(
    articles: Sequence[tuple[int, Article]], settings: StorySettings
) -> dict[str, Edge | None]:
    """Each article's parent link as ``AssignStories`` decides it, in one plain loop: ``(ts,
    article)`` pairs in ``(ts, article_id)`` order, each compared with the earlier ones within
    the window that share a blocking key.  The reference of the tests and the loop of the
    benchmarks."""
    comparison = StoryComparison(settings)
    buckets: dict[str, list[Stored]] = defaultdict(list)
    out: dict[str, Edge | None] = {}
    for ts, article in sorted(articles, key=lambda pair: (pair[0], pair[1].article_id)):
        vector = story_vector(article, settings.model)
        payload = vector.to_bytes()
        edges = []
        for key in blocking_keys(vector, settings.model):
            entry = Stored(article.article_id, ts, key.encode(), payload)
            for other in buckets[key]:
                if ts - other.ts < comparison.reach_us and (edge := comparison.compare(key, other, entry)):
                    edges.append(edge)
            buckets[key].append(entry)
        out[article.article_id] = parent_link(edges, settings)
    return out


def state_bytes(entries: Sequence[tuple[str, Stored]]) -> int:
    """Bytes of state one article occupies: its entry under each blocking key."""
    return sum(len(keyed.STORED_CODER.encode(tuple(entry))) for _, entry in entries)


class _SignFn(beam.DoFn):
    """Article → its entries under its blocking keys, and itself to its decision (or straight out)."""

    def __init__(self, settings: StorySettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        self._settings.model.weights  # noqa: B018  (loads and checks the weights once per worker)
        self._no_keys = metrics.counter("stories_no_blocking_keys")
        self._state_bytes = metrics.distribution("stories_state_bytes_per_article")
        self._keys = metrics.distribution("stories_blocking_keys_per_article")

    def process(self, article: Article, timestamp: Any = beam.DoFn.TimestampParam) -> Iterator[Any]:
        s = self._settings
        ts = keyed.micros(timestamp)
        vector = story_vector(article, s.model)
        keys = blocking_keys(vector, s.model)
        if not keys:
            self._no_keys.inc()
            own = replace(article, story_id=article.article_id, story_score=None)
            yield beam.pvalue.TaggedOutput(OWN_STORY, TimestampedValue(own, timestamp))
            return
        payload = vector.to_bytes()
        entries = [
            (stage_key(k, s.key_bits), Stored(article.article_id, ts, k.encode(), payload)) for k in keys
        ]
        self._state_bytes.update(state_bytes(entries))
        self._keys.update(len(keys))
        yield beam.pvalue.TaggedOutput(DECIDE, keyed.article_message(article, ts))
        for entry in entries:
            yield TimestampedValue(entry, keyed.at(ts))


class AssignStories(beam.PTransform):
    """``Article`` in, ``Article`` out with ``story_id`` (the parent's) and ``story_score`` set.

    Element timestamps must be the articles' ``first_seen_at`` (see ``transforms.keyed``).
    """

    def __init__(self, settings: StorySettings | None = None) -> None:
        super().__init__()
        self._settings = settings or StorySettings()

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        s = self._settings
        signed = articles | "Sign for stories" >> beam.ParDo(_SignFn(s)).with_output_types(
            keyed.ToProbe, decide=keyed.Decidable, own_story=Article
        ).with_outputs(DECIDE, OWN_STORY, main="entries")
        links = signed.entries | "Probe blocking keys" >> beam.ParDo(
            keyed.ProbeCandidateKeys(StoryComparison(s))
        ).with_output_types(keyed.Decidable)
        decided = (
            (signed[DECIDE], links)
            | "Merge articles and links" >> beam.Flatten().with_output_types(keyed.Decidable)
            | "Decide stories" >> beam.ParDo(keyed.DecideOnce(StoryDecision(s))).with_output_types(Article)
        )
        return (decided, signed[OWN_STORY]) | "Merge stories" >> beam.Flatten().with_output_types(Article)
