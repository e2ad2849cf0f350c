"""The story similarity model, pure functions: article vectors, blocking keys, pair score, join decision.

A *story* is one real-world event covered by several articles. The story stage links articles
in pairs and decides once per article, with no mutable story state:

1. ``story_vector(article)``: a compact, frozen summary computed from the article alone, in the
   shape the trained model keeps (``transforms/story_vectors.py``).
2. ``blocking_keys(v)``: a few selective keys (the rarest entities and title/body terms); two
   articles are compared only when they share one and are within ``window_hours``.
3. ``link_score(a, b)``: a logistic model over symmetric pair features — the cosines of the
   channels (title, body, title-vs-body, all text, stems, entities, people, places,
   organisations), number overlap, a people conflict and Gaussian kernels of the time gap —,
   in [0, 1], ``link_score(a, b) == link_score(b, a)``. Its weights ship beside this module
   (``story_model.json``, written by ``benchmarks/train_story_model.py``; the file records the
   data, split and command that trained it).
4. ``choose_parent(candidates)``: from the scores of an article's *earlier* candidates, its
   parent (the best-scoring one) if the score reaches the join threshold, or if it is the only
   candidate reaching the lower *sole* threshold; else ``None`` (it starts a story).
   ``reference_assign`` is the pure reference of the whole stage and ``story_roots`` resolves
   parent chains into story ids.

Invariants: vectors, keys, scores and decisions are deterministic functions of their inputs.
"""

from __future__ import annotations

import json
import math
import operator
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from transforms.records import Article
from transforms.story_vectors import (
    MAX_KEYS,
    ORG,
    PERSON,
    PLACE,
    StoryVector,
    VectorShape,
    article_vector,
    dot,
)

MODEL_FILE = "story_model.json"
MODEL_FORMAT = 1


# ----------------------------------------------------------------------------------------------
# Settings and weights


@dataclass(frozen=True)
class StoryModelSettings:
    """What the story model does at run time.

    ``threshold``: the link score an article's best earlier candidate must reach for the article
    to join it (None: the threshold the weights file was chosen with). ``sole_threshold``: the
    lower score that suffices when that candidate is the only one reaching it (None: the weights
    file's when ``threshold`` is None too, else ``threshold``, i.e. one threshold for every
    article); at most the join threshold. ``window_hours``: how far back candidates reach.
    ``blocking_entities`` / ``blocking_terms``: how many keys of each kind an article is stored
    and looked up under (``blocking_keys``). ``model_path``: the weights file (None: the one
    shipped in the package); ``model_version``: if set, the file's ``version`` must equal it.
    """

    threshold: float | None = None
    sole_threshold: float | None = None
    window_hours: float = 336.0
    blocking_entities: int = 3
    blocking_terms: int = 2
    model_path: str | None = None
    model_version: str | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1] (or None: the model's), not {self.threshold}")
        if self.sole_threshold is not None and not 0 <= self.sole_threshold <= 1:
            raise ValueError(f"sole_threshold must be in [0, 1] (or None), not {self.sole_threshold}")
        if (
            self.threshold is not None
            and self.sole_threshold is not None
            and self.sole_threshold > self.threshold
        ):
            raise ValueError("sole_threshold must not exceed threshold")
        if not self.window_hours > 0:
            raise ValueError(f"window_hours must be positive, not {self.window_hours}")
        for name in ("blocking_entities", "blocking_terms"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_KEYS:
                raise ValueError(f"{name} must be in [0, {MAX_KEYS}], not {value}")
        if self.blocking_entities + self.blocking_terms == 0:
            raise ValueError("blocking_entities + blocking_terms must be at least 1")

    @property
    def weights(self) -> ModelWeights:
        return load_weights(self.model_path, self.model_version)

    @property
    def join_threshold(self) -> float:
        """The score an article's best candidate must reach to be its parent."""
        return self.weights.threshold if self.threshold is None else self.threshold

    @property
    def sole_join_threshold(self) -> float:
        """The score that suffices for an article's only candidate reaching it; the lowest
        score of a link the stage passes on to the decision."""
        if self.sole_threshold is not None:
            return min(self.sole_threshold, self.join_threshold)
        if self.threshold is not None:
            return self.threshold
        return min(self.weights.sole_join_threshold, self.join_threshold)


@dataclass(frozen=True)
class ModelWeights:
    """A trained pair model: logistic regression over ``features`` (see ``pair_features``), and
    the two thresholds of ``choose_parent`` it was chosen with (``sole_threshold`` <=
    ``threshold``; a file without ``sole_threshold`` has one threshold for every article)."""

    version: str
    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    threshold: float
    shape: VectorShape
    time_scales_hours: tuple[float, ...]
    record: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    sole_threshold: float | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.features) - set(feature_names(self.time_scales_hours)))
        if unknown:
            raise ValueError(f"unknown features in the story model: {', '.join(unknown)}")
        if len(self.features) != len(self.coefficients):
            raise ValueError("the story model has not one coefficient per feature")
        if not 0 <= self.threshold <= 1:
            raise ValueError("the story model's threshold must be in [0, 1]")
        if self.sole_threshold is not None and not 0 <= self.sole_threshold <= self.threshold:
            raise ValueError("the story model's sole_threshold must be in [0, threshold]")

    @property
    def sole_join_threshold(self) -> float:
        """``sole_threshold``, or ``threshold`` when the model has none."""
        return self.threshold if self.sole_threshold is None else self.sole_threshold

    @cached_property
    def dense(self) -> tuple[float, ...]:
        """One coefficient per ``feature_names`` entry (0 for the features not used)."""
        by_name = dict(zip(self.features, self.coefficients, strict=True))
        return tuple(by_name.get(f, 0.0) for f in feature_names(self.time_scales_hours))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelWeights:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"story model format {data.get('format')!r}, expected {MODEL_FORMAT}")
        return cls(
            version=str(data["version"]),
            features=tuple(data["features"]),
            coefficients=tuple(float(c) for c in data["coefficients"]),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            shape=VectorShape(**data["shape"]),
            time_scales_hours=tuple(float(s) for s in data["time_scales_hours"]),
            record=data.get("record", {}),
            sole_threshold=float(data["sole_threshold"]) if "sole_threshold" in data else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "features": list(self.features),
            "coefficients": [round(c, 6) for c in self.coefficients],
            "intercept": round(self.intercept, 6),
            "threshold": round(self.threshold, 4),
            "sole_threshold": round(self.sole_join_threshold, 4),
            "shape": vars(self.shape),
            "time_scales_hours": list(self.time_scales_hours),
            "record": dict(self.record),
        }


@lru_cache(maxsize=8)  # a file read once per process and path: a memo, not state
def load_weights(path: str | None = None, version: str | None = None) -> ModelWeights:
    """The weights at ``path`` (None: the packaged ``story_model.json``), checked."""
    if path is None:
        text = resources.files("transforms").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    weights = ModelWeights.from_json(json.loads(text))
    if version is not None and weights.version != version:
        raise ValueError(f"story model {path or MODEL_FILE} is version {weights.version}, not {version}")
    return weights


def story_vector(article: Article, settings: StoryModelSettings | None = None) -> StoryVector:
    """The vector of one article in the shape of the settings' model."""
    return article_vector(article, (settings or StoryModelSettings()).weights.shape)


# ----------------------------------------------------------------------------------------------
# Blocking


def blocking_keys(v: StoryVector, settings: StoryModelSettings | None = None) -> list[str]:
    """Keys an article is stored and looked up under: its first ``blocking_entities`` key
    entities (``e`` + hash) and first ``blocking_terms`` key terms (``t`` + hash); sorted."""
    settings = settings or StoryModelSettings()
    keys = {f"e{h:08x}" for h in v.key_entities[: settings.blocking_entities]}
    keys.update(f"t{h:08x}" for h in v.key_terms[: settings.blocking_terms])
    return sorted(keys)


# ----------------------------------------------------------------------------------------------
# Pair score


def feature_names(time_scales_hours: Sequence[float]) -> tuple[str, ...]:
    base = (
        "title",
        "body",
        "cross",
        "text",
        "stems",
        "entities",
        "person",
        "place",
        "org",
        "person_conflict",
        "place_conflict",
        "numbers",
        "numbers_none_shared",
        "years_shared",
        "years_conflict",
        "days_shared",
        "days_conflict",
    )
    return base + tuple(f"time_{s:g}h" for s in time_scales_hours)


def pair_features(a: StoryVector, b: StoryVector, time_scales_hours: Sequence[float]) -> tuple[float, ...]:
    """The features of a pair, in ``feature_names`` order; symmetric bit for bit,
    ``pair_features(a, b) == pair_features(b, a)`` (dot products are sums of integer weights,
    and every float expression is written symmetrically). ``a``'s lookups are built once and
    kept (the arriving article); ``b`` is read as stored (a candidate decoded for this pair)."""
    la, da, db = a.lookups, a.derived, b.derived
    (nta, nba, nsa, nea), (ntb, nbb, nsb, neb) = da.norms, db.norms
    tt = dot(la.title, b.title) / (nta * ntb)
    bb = dot(la.body, b.body) / (nba * nbb)
    cross = dot(la.title, b.body) / (nta * nbb) + dot(la.body, b.title) / (nba * ntb)
    text = ((tt + bb) + cross) / math.sqrt((2 + 2 * da.title_body) * (2 + 2 * db.title_body))
    groups = [0, 0, 0, 0]
    entities = 0
    ea, group_a, eb = la.entities, la.groups, b.entities
    common = ea.keys() & eb.hashes
    if common:
        position = eb.hashes.index
        for h in common:
            k = position(h)
            product = ea[h] * eb.weights[k]
            entities += product
            if group_a[h] == b.entity_groups[k]:
                groups[group_a[h]] += product
    na, nb = da.group_norms, db.group_norms
    person = groups[PERSON] / (na[PERSON] * nb[PERSON]) if na[PERSON] and nb[PERSON] else 0.0
    place = groups[PLACE] / (na[PLACE] * nb[PLACE]) if na[PLACE] and nb[PLACE] else 0.0
    org = groups[ORG] / (na[ORG] * nb[ORG]) if na[ORG] and nb[ORG] else 0.0
    numbers = 0.0
    if a.numbers and b.numbers:
        numbers = len(da.numbers & db.numbers) / math.sqrt(len(a.numbers) * len(b.numbers))
    hours = abs(a.ts - b.ts) / 3600.0
    return (
        tt,
        bb,
        cross / 2,
        text,
        dot(la.stems, b.stems) / (nsa * nsb),
        entities / (nea * neb),
        person,
        place,
        org,
        1.0 - person if na[PERSON] and nb[PERSON] else 0.0,
        1.0 - place if na[PLACE] and nb[PLACE] else 0.0,
        numbers,
        1.0 if a.numbers and b.numbers and not numbers else 0.0,
        1.0 if da.years & db.years else 0.0,
        1.0 if da.years and db.years and not da.years & db.years else 0.0,
        1.0 if da.days & db.days else 0.0,
        1.0 if da.days and db.days and not da.days & db.days else 0.0,
        *(math.exp(-0.5 * (hours / s) ** 2) for s in time_scales_hours),
    )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def link_score(a: StoryVector, b: StoryVector, settings: StoryModelSettings | None = None) -> float:
    """Probability-like score in [0, 1] that ``a`` and ``b`` report the same story; symmetric
    bit for bit."""
    weights = (settings or StoryModelSettings()).weights
    feats = pair_features(a, b, weights.time_scales_hours)
    return _sigmoid(weights.intercept + sum(map(operator.mul, weights.dense, feats)))


# ----------------------------------------------------------------------------------------------
# Decision and reference


def choose_parent(
    candidates: Sequence[tuple[str, float, float]], settings: StoryModelSettings | None = None
) -> tuple[str | None, float]:
    """``(member_id, member_ts, score)`` of an article's earlier candidates -> ``(parent, score)``.

    The parent is the best-scoring candidate (ties: the earliest ``(ts, id)``) when its score
    reaches the join threshold, or when it is the only candidate whose score reaches the sole
    threshold (an article with one plausible earlier match joins it on less evidence than one
    with several, whose best match may belong to another story of the same topic); otherwise
    ``(None, best score)`` and the article starts a story. No candidates: ``(None, 0.0)``.
    Candidates below the sole threshold change nothing, so the decision is the same on the
    links the stage passes on (scores from ``sole_join_threshold`` up). The result does not
    depend on the order of ``candidates``.
    """
    settings = settings or StoryModelSettings()
    if not candidates:
        return None, 0.0
    member, _, score = min(candidates, key=lambda c: (-c[2], c[1], c[0]))
    if score >= settings.join_threshold:
        return member, score
    sole = settings.sole_join_threshold
    if score >= sole and sum(1 for c in candidates if c[2] >= sole) == 1:
        return member, score
    return None, score


def reference_assign(
    vectors: Sequence[tuple[str, float, StoryVector]], settings: StoryModelSettings | None = None
) -> dict[str, tuple[str | None, float]]:
    """The pure reference of the story stage: ``(id, ts, vector)`` -> ``{id: (parent, score)}``.

    Articles are taken in ``(ts, id)`` order; an article's candidates are the articles before it
    in that order, at most ``window_hours`` earlier, sharing a blocking key with it.
    """
    settings = settings or StoryModelSettings()
    window_s = settings.window_hours * 3600.0
    ordered = sorted(vectors, key=lambda item: (item[1], item[0]))
    by_key: dict[str, list[tuple[str, float, StoryVector]]] = defaultdict(list)
    out: dict[str, tuple[str | None, float]] = {}
    for article_id, ts, v in ordered:
        if article_id in out:
            raise ValueError(f"article {article_id!r} given twice")
        keys = blocking_keys(v, settings)
        seen: set[str] = set()
        candidates = []
        for key in keys:
            for member_id, member_ts, member in by_key[key]:
                if member_id not in seen and ts - member_ts <= window_s:
                    seen.add(member_id)
                    candidates.append((member_id, member_ts, link_score(v, member, settings)))
        out[article_id] = choose_parent(candidates, settings)
        for key in keys:
            by_key[key].append((article_id, ts, v))
    return out


def story_roots(parents: Mapping[str, tuple[str | None, float]]) -> dict[str, str]:
    """Each article's story id: the root of its parent chain (an article without a parent is
    its own root). Raises ``ValueError`` if a parent is not in ``parents`` or chains loop."""
    roots: dict[str, str] = {}
    for start in parents:
        path: list[str] = []
        on_path: set[str] = set()
        node = start
        while node not in roots:
            if node not in parents:
                raise ValueError(f"article {path[-1]!r} has an unknown parent {node!r}")
            parent = parents[node][0]
            if parent is None:
                roots[node] = node
                break
            if node in on_path:
                raise ValueError(f"parent chains form a cycle through {node!r}")
            path.append(node)
            on_path.add(node)
            node = parent
        root = roots[node]
        for n in path:
            roots[n] = root
    return roots
