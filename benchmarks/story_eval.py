"""Story model quality with the pure reference (``transforms.story_model``), on both story sets.

    .venv/bin/python -m benchmarks.story_eval                 # dev (cross-validated) and held-out
    .venv/bin/python -m benchmarks.story_eval --ablation      # + each signal dropped in turn
    .venv/bin/python -m benchmarks.story_eval --speed         # + the speed curve (1k/10k/100k)
    .venv/bin/python -m benchmarks.story_eval --diagnose      # + dev: recall losses, blocking bound

Data, splits and the pipeline's view of the articles: ``benchmarks/story_data.py``. The model
scored is the shipped ``transforms/story_model.json`` (trained by
``benchmarks/train_story_model.py`` on the training parts only). Figures:

- *held-out*: the shipped model and threshold, run by ``story_model.reference_assign`` over each
  dataset's held-out part (ECB+: 7 topics, both sub-events of a topic in one 36-hour window;
  GVA: the articles of 2015-07-01 and later) as one stream; story ids are the roots of the
  parent chains (``story_model.story_roots``).
- *dev*: 3-fold cross-validation on the training parts (ECB+ by topic, GVA by consecutive
  days): a model trained on two folds of both sets, run on the third fold's stream; the three
  folds pooled. This is what settings were chosen on.
- *ablation*: the same dev and held-out runs with a model retrained without one signal (its
  threshold re-chosen on dev as the training script does).
- *diagnosis* (dev only): for each article whose story has an earlier article, whether it joined
  it, or why not (out of the window, not a blocking candidate, below the thresholds); and the dev
  metrics of other blocking keys, up to every pair within the window, scored by the same fold
  models: what better blocking alone could give.

Scores: pairwise precision/recall/F1 over article pairs, B-cubed F1, and for ECB+ the share of
hard-negative pairs (same topic, other sub-event) put in one story.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from benchmarks import story_data as sd
from transforms import story_model as sm
from transforms.story_model import ModelWeights, StoryModelSettings
from transforms.story_vectors import StoryVector

# ----------------------------------------------------------------------------------------------
# Streams: articles of one part in (ts, id) order with their blocking candidates and pair features


@dataclass
class Stream:
    """One evaluation stream (a dataset part), ordered as ``reference_assign`` orders it."""

    name: str
    dataset: str
    ids: list[str]
    ts: list[float]
    story: list[str]
    group: list[str]
    vectors: list[StoryVector]
    cand_i: np.ndarray  # pair rows: the later article
    cand_j: np.ndarray  # pair rows: the earlier candidate
    features: np.ndarray  # pair rows x all feature names
    label: np.ndarray  # 1 when the pair is one story

    @property
    def n(self) -> int:
        return len(self.ids)


def vectors_for(docs: Sequence[sd.PipelineDoc], settings: StoryModelSettings) -> list[StoryVector]:
    return [sm.story_vector(p.article, settings) for p in docs]


def build_stream(
    name: str,
    docs: Sequence[sd.PipelineDoc],
    vectors: Sequence[StoryVector],
    settings: StoryModelSettings,
    names: Sequence[str],
) -> Stream:
    """Candidates exactly as ``reference_assign`` finds them, with every pair feature."""
    scales = settings.weights.time_scales_hours
    columns = [sm.feature_names(scales).index(n) for n in names]
    order = sorted(range(len(docs)), key=lambda k: (vectors[k].ts, docs[k].article.article_id))
    window_s = settings.window_hours * 3600
    by_key: dict[str, list[int]] = defaultdict(list)
    ci, cj, rows = [], [], []
    ordered_vectors = [vectors[k] for k in order]
    for i, v in enumerate(ordered_vectors):
        keys = sm.blocking_keys(v, settings)
        found = sorted({j for key in keys for j in by_key[key] if v.ts - ordered_vectors[j].ts <= window_s})
        for j in found:
            f = sm.pair_features(v, ordered_vectors[j], scales)
            ci.append(i)
            cj.append(j)
            rows.append([f[c] for c in columns])
        for key in keys:
            by_key[key].append(i)
    stories = [docs[k].doc.story for k in order]
    return Stream(
        name=name,
        dataset=docs[0].doc.dataset if docs else "",
        ids=[docs[k].article.article_id for k in order],
        ts=[v.ts for v in ordered_vectors],
        story=stories,
        group=[docs[k].doc.group for k in order],
        vectors=ordered_vectors,
        cand_i=np.array(ci, dtype=np.int64),
        cand_j=np.array(cj, dtype=np.int64),
        features=np.array(rows, dtype=np.float64).reshape(len(rows), len(names)),
        label=np.array([stories[i] == stories[j] for i, j in zip(ci, cj, strict=True)], dtype=np.float64),
    )


# ----------------------------------------------------------------------------------------------
# Assignment from pair scores (the rule of story_model.choose_parent, vectorised) and metrics


Thresholds = tuple[float, float]  # (join threshold, sole threshold <= join threshold)
_T = TypeVar("_T", float, Thresholds)


def _best_two(stream: Stream, scores: np.ndarray) -> tuple[list[float], list[int], list[float]]:
    """Per article: its best candidate's score (-1: none), that candidate (ties: the earliest;
    the article itself: none) and the second-best score (-1: fewer than two candidates)."""
    best, second = [-1.0] * stream.n, [-1.0] * stream.n
    parent = list(range(stream.n))
    for i, j, s in zip(stream.cand_i.tolist(), stream.cand_j.tolist(), scores.tolist(), strict=True):
        if s > best[i] or (s == best[i] and j < parent[i]):
            second[i] = best[i]
            best[i] = s
            parent[i] = j
        elif s > second[i]:
            second[i] = s
    return best, parent, second


def assign(stream: Stream, scores: np.ndarray, thresholds: float | Thresholds) -> list[int]:
    """Each article's story root (an index) with ``scores`` per pair row, by the rule of
    ``story_model.choose_parent``: the best earlier candidate (ties: earliest) if its score
    reaches the join threshold, or reaches the sole threshold with no other candidate reaching
    it. One number: the same threshold for both."""
    join, sole = thresholds if isinstance(thresholds, tuple) else (thresholds, thresholds)
    best, parent, second = _best_two(stream, scores)
    root = list(range(stream.n))
    for i in range(stream.n):
        if parent[i] != i and (best[i] >= join or (best[i] >= sole and second[i] < sole)):
            root[i] = root[parent[i]]  # the parent is earlier: its root is final
    return root


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def metrics(story: Sequence[str], group: Sequence[str], pred: Sequence[object]) -> dict[str, float]:
    """Pairwise P/R/F1, B-cubed P/R/F1 and the share of hard-negative pairs merged."""
    items = range(len(story))
    cell = Counter((pred[i], story[i]) for i in items)
    pred_sizes = Counter(pred)
    gold_sizes = Counter(story)
    tp = sum(_pairs(n) for n in cell.values())
    pp = sum(_pairs(n) for n in pred_sizes.values())
    gp = sum(_pairs(n) for n in gold_sizes.values())
    same_group = Counter(g for g in group if g)
    hn_total = sum(_pairs(n) for n in same_group.values()) - sum(
        _pairs(n) for (s, g), n in Counter(zip(story, group, strict=True)).items() if g
    )
    merged_group = Counter((pred[i], group[i]) for i in items if group[i])
    merged_story = Counter((pred[i], story[i], group[i]) for i in items if group[i])
    hn_merged = sum(_pairs(n) for n in merged_group.values()) - sum(_pairs(n) for n in merged_story.values())
    p = tp / pp if pp else 1.0
    r = tp / gp if gp else 1.0
    n = len(story) or 1
    b3p = sum(cell[(pred[i], story[i])] / pred_sizes[pred[i]] for i in items) / n
    b3r = sum(cell[(pred[i], story[i])] / gold_sizes[story[i]] for i in items) / n
    return {
        "pair_p": p,
        "pair_r": r,
        "pair_f1": 2 * p * r / (p + r) if p + r else 0.0,
        "b3_p": b3p,
        "b3_r": b3r,
        "b3_f1": 2 * b3p * b3r / (b3p + b3r) if b3p + b3r else 0.0,
        "hn_merged": hn_merged / hn_total if hn_total else 0.0,
        "articles": float(len(story)),
        "stories": float(len(pred_sizes)),
    }


def score_streams(
    streams: Sequence[Stream], scores: Sequence[np.ndarray], thresholds: float | Thresholds
) -> dict[str, float]:
    """The streams' clusterings pooled (story ids kept apart per stream) and scored."""
    story, group, pred = [], [], []
    for k, (st, sc) in enumerate(zip(streams, scores, strict=True)):
        roots = assign(st, sc, thresholds)
        story += [f"{k}:{s}" for s in st.story]
        group += [f"{k}:{g}" if g else "" for g in st.group]
        pred += [(k, r) for r in roots]
    return metrics(story, group, pred)


def fmt(m: Mapping[str, float]) -> str:
    hn = f" | hard negatives merged {100 * m['hn_merged']:.1f}%" if m.get("hn_merged") else ""
    return (
        f"pairwise P {m['pair_p']:.3f} R {m['pair_r']:.3f} F1 {m['pair_f1']:.3f} | "
        f"B-cubed F1 {m['b3_f1']:.3f}{hn} | {m['articles']:.0f} articles, {m['stories']:.0f} stories"
    )


def blocking_stats(streams: Sequence[Stream], window_hours: float) -> dict[str, float]:
    """How many same-story pairs within the window are candidates, and candidates per article."""
    gold = found = 0
    per_article: list[int] = []
    for st in streams:
        cands = set(zip(st.cand_i.tolist(), st.cand_j.tolist(), strict=True))
        by_story: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(st.story):
            by_story[s].append(i)
        for members in by_story.values():
            for a in range(len(members)):
                for b in range(a):
                    i, j = members[a], members[b]
                    if st.ts[i] - st.ts[j] <= window_hours * 3600:
                        gold += 1
                        found += (i, j) in cands
        per_article += list(Counter(st.cand_i.tolist()).get(i, 0) for i in range(st.n))
    per_article.sort()
    return {
        "pair_recall": found / gold if gold else 1.0,
        "cands_mean": statistics.fmean(per_article) if per_article else 0.0,
        "cands_p95": float(per_article[int(0.95 * (len(per_article) - 1))]) if per_article else 0.0,
        "cands_max": float(per_article[-1]) if per_article else 0.0,
    }


# ----------------------------------------------------------------------------------------------
# Training: logistic regression (L2, Newton steps, numpy only), cross-validation, selection


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression (intercept not penalised): (coefficients, intercept)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(xb @ beta, -30, 30)))
        grad = xb.T @ (w * (p - y)) + reg * beta
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta[:-1], float(beta[-1])


def predict(x: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x @ coef + intercept, -30, 30)))


@dataclass(frozen=True)
class Recipe:
    """How a pair model is fitted: features used, L2, and the extra weight of each article's
    best-scoring wrong candidate under a first fit (Miranda et al.'s "second best as a
    negative"; 1 = none). Each dataset weighs the same in total."""

    features: tuple[str, ...]
    l2: float = 1.0
    hard_negative_weight: float = 1.0


def _top_negatives(stream: Stream, scores: np.ndarray) -> np.ndarray:
    """Row mask: for each article, its best-scoring candidate from another story."""
    mask = np.zeros(len(scores), dtype=bool)
    best: dict[int, tuple[float, int]] = {}
    for r, (i, lab) in enumerate(zip(stream.cand_i.tolist(), stream.label.tolist(), strict=True)):
        if not lab and (i not in best or scores[r] > best[i][0]):
            best[i] = (float(scores[r]), r)
    mask[[r for _, r in best.values()]] = True
    return mask


def fit(
    streams: Mapping[str, Sequence[Stream]], names: Sequence[str], recipe: Recipe
) -> tuple[np.ndarray, float]:
    """Fit ``recipe`` on the pair rows of ``streams`` (dataset -> its training streams)."""
    cols = [names.index(f) for f in recipe.features]

    def rows(extra: Mapping[int, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs, ys, ws = [], [], []
        k = 0
        for parts in streams.values():
            wd = []
            for st in parts:
                xs.append(st.features[:, cols])
                ys.append(st.label)
                w = np.ones(len(st.label))
                if extra is not None:
                    w[extra[k]] = recipe.hard_negative_weight
                wd.append(w)
                k += 1
            total = sum(w.sum() for w in wd) or 1.0
            ws += [w / total for w in wd]
        w = np.concatenate(ws)
        return np.vstack(xs), np.concatenate(ys), w / w.mean()

    x, y, w = rows(None)
    coef, b = fit_logistic(x, y, w, recipe.l2)
    if recipe.hard_negative_weight != 1.0:
        flat = [st for parts in streams.values() for st in parts]
        masks = {k: _top_negatives(st, predict(st.features[:, cols], coef, b)) for k, st in enumerate(flat)}
        x, y, w = rows(masks)
        coef, b = fit_logistic(x, y, w, recipe.l2)
    return coef, b


THRESHOLDS = tuple(round(0.05 + 0.025 * k, 3) for k in range(37))  # 0.05 .. 0.95
# (join, sole) pairs: every sole threshold up to the join threshold; (t, t) is one threshold
THRESHOLD_PAIRS = tuple((t, s) for t in THRESHOLDS for s in THRESHOLDS if s <= t)
HN_LIMIT = 0.05


def objective(m: Mapping[str, Mapping[str, float]]) -> float:
    """What settings are chosen by, on dev: the mean of the three target metrics (ECB+ pairwise
    F1, GVA pairwise F1, GVA B-cubed F1) minus the ECB+ hard-negative merge rate above 5%."""
    e, g = m["ecbplus"], m["gva"]
    return (e["pair_f1"] + g["pair_f1"] + g["b3_f1"]) / 3 - max(0.0, e["hn_merged"] - HN_LIMIT)


def cross_validate(
    folds: Mapping[str, Sequence[Stream]], names: Sequence[str], recipe: Recipe
) -> tuple[dict[Thresholds, dict[str, dict[str, float]]], dict[str, list[np.ndarray]]]:
    """Fold k of every dataset is scored by a model fitted on the other folds of all datasets;
    returns per ``(join, sole)`` threshold pair the pooled metrics per dataset, and the
    out-of-fold scores."""
    cols = [names.index(f) for f in recipe.features]
    n_folds = len(next(iter(folds.values())))
    scores: dict[str, list[np.ndarray]] = {ds: [] for ds in folds}
    for k in range(n_folds):
        train = {ds: [p for f, p in enumerate(parts) if f != k] for ds, parts in folds.items()}
        coef, b = fit(train, names, recipe)
        for ds, parts in folds.items():
            scores[ds].append(predict(parts[k].features[:, cols], coef, b))
    table = {t: {ds: score_streams(folds[ds], scores[ds], t) for ds in folds} for t in THRESHOLD_PAIRS}
    return table, scores


def choose_threshold(table: Mapping[_T, Mapping[str, Mapping[str, float]]]) -> _T:
    """The threshold (or ``(join, sole)`` pair) with the best ``objective``; ties: the highest
    (fewest links)."""
    return max(table, key=lambda t: (objective(table[t]), t))


# ----------------------------------------------------------------------------------------------
# Held-out runs with the real pure reference


def reference_run(docs: Sequence[sd.PipelineDoc], settings: StoryModelSettings) -> dict[str, float]:
    """``story_model.reference_assign`` + ``story_roots`` over ``docs`` as one stream, scored."""
    vectors = [(p.article.article_id, 0.0, sm.story_vector(p.article, settings)) for p in docs]
    vectors = [(i, v.ts, v) for i, _, v in vectors]
    roots = sm.story_roots(sm.reference_assign(vectors, settings))
    return metrics(
        [p.doc.story for p in docs], [p.doc.group for p in docs], [roots[p.article.article_id] for p in docs]
    )


def held_out_docs(dataset: str) -> list[sd.PipelineDoc]:
    return [p for p in sd.pipeline_docs(dataset) if p.doc.split == "heldout"]


# ----------------------------------------------------------------------------------------------
# Ablation: the model retrained (and its threshold re-chosen on dev) without one signal

SIGNALS: dict[str, tuple[str, ...]] = {
    "title channel": ("title", "cross"),
    "body channel": ("body", "cross"),
    "all-text channel": ("text",),
    "stem channel": ("stems",),
    "entity channels": ("entities", "person", "place", "org", "person_conflict", "place_conflict"),
    "numbers": ("numbers", "numbers_none_shared"),
    "dates named": ("years_shared", "years_conflict", "days_shared", "days_conflict"),
    "time kernels": ("time_24h", "time_72h", "time_240h"),
}


def ablation(
    shipped: ModelWeights, work: Path
) -> list[tuple[str, dict[str, dict[str, float]], dict[str, dict[str, float]], Thresholds]]:
    """Per signal dropped: (name, dev metrics, held-out metrics, (join, sole) thresholds)."""
    from benchmarks import train_story_model as tm

    settings = tm.spec_settings(work)
    folds = tm.training_folds(settings, verbose=False)
    recipe = Recipe(
        shipped.features,
        float(shipped.record.get("recipe", {}).get("l2", 1.0)),
        float(shipped.record.get("recipe", {}).get("hard_negative_weight", 1.0)),
    )
    held = {ds: held_out_docs(ds) for ds in sd.DATASETS}
    out: list[tuple[str, dict[str, dict[str, float]], dict[str, dict[str, float]], Thresholds]] = []
    for name, dropped in [("none (shipped recipe)", ()), *SIGNALS.items()]:
        r = replace(recipe, features=tuple(f for f in recipe.features if f not in dropped))
        table, _ = cross_validate(folds, tm.FEATURES, r)
        t = choose_threshold(table)
        weights = tm.train(folds, r, t, {})
        path = work / f"ablation-{len(out)}.json"
        path.write_text(json.dumps(weights.to_json()), encoding="utf-8")
        s = replace(settings, model_path=str(path))
        out.append((name, table[t], {ds: reference_run(docs, s) for ds, docs in held.items()}, t))
    return out


# ----------------------------------------------------------------------------------------------
# Speed: CPU per arriving article against N stored articles


def speed_curve(
    docs: Sequence[sd.PipelineDoc], settings: StoryModelSettings, sizes: Sequence[int], probes: int
) -> list[dict[str, float]]:
    """The story stage's CPU per arriving article against ``N`` stored articles, run with the
    stage's own code: the arrival's vector, keys and entries (``stories.stage_key``); for each of
    its keys, reading the stage key's bag as the runner hands it over (every entry decoded by
    ``keyed.STORED_CODER``, entries of other blocking keys in the same stage key included) and
    ``keyed.probe`` with ``stories.StoryComparison`` (its memo of decoded vectors, the first
    shared key, ``link_score``); then ``stories.parent_link``. Runner overhead (bundles, state
    writes, the decision's timer) is not counted. The stored articles are the real articles of
    both sets, repeated with fresh ids to reach ``N`` and spread over the window (a
    topic-concentrated, so pessimistic, background: GVA is all shootings, and every probe finds
    its own copies); probes are real articles too."""
    from transforms import keyed, stories

    stage = stories.StorySettings(model=settings)
    comparison = stories.StoryComparison(stage)
    base = [sm.story_vector(p.article, settings) for p in docs]
    encoded = [(v.to_bytes(), sm.blocking_keys(v, settings)) for v in base]
    window_us = round(settings.window_hours * 3600 * 1e6)
    now = 1_800_000_000 * 1_000_000
    step = max(1, len(base) // probes)
    picked = [docs[k].article for k in range(0, len(base), step)][:probes]
    out = []
    for n in sizes:
        stories._vector.cache_clear()
        stories._keys.cache_clear()
        bags: dict[str, list[bytes]] = defaultdict(list)
        for k in range(n):
            data, keys = encoded[k % len(encoded)]
            ts = now - round(window_us * (k + 0.5) / n)
            for key in keys:
                bags[stories.stage_key(key, stage.key_bits)].append(
                    keyed.STORED_CODER.encode((f"s{k}", ts, key.encode(), data))
                )
        read = links = 0
        started = time.process_time()
        for article in picked:
            v = replace(sm.story_vector(article, settings), ts=now / 1e6)  # after every stored article
            payload = v.to_bytes()
            edges = []
            for key in sm.blocking_keys(v, settings):
                arrival = keyed.Stored(article.article_id, now, key.encode(), payload)
                rows = bags.get(stories.stage_key(key, stage.key_bits), ())
                stored = [keyed.Stored(*keyed.STORED_CODER.decode(row)) for row in rows]
                read += len(stored)
                edges += [edge for _, edge in keyed.probe(key, arrival, stored, comparison)]
            links += len(edges)
            stories.parent_link(edges, stage)
        cpu = time.process_time() - started
        out.append(
            {
                "stored": float(n),
                "ms_per_article": 1000 * cpu / len(picked),
                "entries_read_per_article": read / len(picked),
                "links_per_article": links / len(picked),
            }
        )
    return out


def vector_cost(docs: Sequence[sd.PipelineDoc], settings: StoryModelSettings) -> dict[str, float]:
    """Bytes of a stored vector, keys per article, CPU of the pieces (ms)."""
    started = time.process_time()
    vectors = [sm.story_vector(p.article, settings) for p in docs]
    build_ms = 1000 * (time.process_time() - started) / len(docs)
    sizes = sorted(len(v.to_bytes()) for v in vectors)
    keys = [len(sm.blocking_keys(v, settings)) for v in vectors]
    blobs = [v.to_bytes() for v in vectors]
    started = time.process_time()
    decoded = [StoryVector.from_bytes(b) for b in blobs]
    decode_us = 1e6 * (time.process_time() - started) / len(blobs)
    assert decoded == vectors
    pairs = [(decoded[k], decoded[(k * 7 + 3) % len(decoded)]) for k in range(len(decoded))]
    started = time.process_time()
    for a, b in pairs:
        sm.link_score(a, b, settings)
    score_us = 1e6 * (time.process_time() - started) / len(pairs)
    return {
        "bytes_mean": statistics.fmean(sizes),
        "bytes_p95": float(sizes[int(0.95 * (len(sizes) - 1))]),
        "bytes_max": float(sizes[-1]),
        "keys_mean": statistics.fmean(keys),
        "state_bytes_per_article": statistics.fmean(len(b) * k for b, k in zip(blobs, keys, strict=True)),
        "vector_ms": build_ms,
        "decode_us": decode_us,
        "score_us_fresh": score_us,
    }


# ----------------------------------------------------------------------------------------------
# Diagnosis (dev only): where recall goes, and what blocking costs


LOSS_KINDS = (
    "joined a right parent",
    "joined a wrong parent",
    "no earlier article of its story within the window",
    "an earlier article of its story in the window, none a candidate",
    "a candidate of its story, best below the sole threshold",
    "a candidate of its story reaching the sole threshold, another candidate too",
)


def recall_losses(
    stream: Stream, scores: np.ndarray, thresholds: Thresholds, window_hours: float
) -> Counter[str]:
    """For every article whose story has an earlier article in ``stream``: what happened to it
    (one of ``LOSS_KINDS``)."""
    join, sole = thresholds
    best, parent, second = _best_two(stream, scores)
    story_cands: dict[int, list[float]] = defaultdict(list)
    for i, j, s in zip(stream.cand_i.tolist(), stream.cand_j.tolist(), scores.tolist(), strict=True):
        if stream.story[i] == stream.story[j]:
            story_cands[i].append(s)
    seen: dict[str, list[float]] = defaultdict(list)
    out: Counter[str] = Counter()
    for i in range(stream.n):
        earlier = list(seen[stream.story[i]])
        seen[stream.story[i]].append(stream.ts[i])
        if not earlier:
            continue
        joined = parent[i] != i and (best[i] >= join or (best[i] >= sole and second[i] < sole))
        if joined:
            out[LOSS_KINDS[0] if stream.story[parent[i]] == stream.story[i] else LOSS_KINDS[1]] += 1
        elif stream.ts[i] - earlier[-1] > window_hours * 3600:
            out[LOSS_KINDS[2]] += 1
        elif not story_cands[i]:
            out[LOSS_KINDS[3]] += 1
        else:
            out[LOSS_KINDS[4] if max(story_cands[i]) < sole else LOSS_KINDS[5]] += 1
    return out


def all_pairs(stream: Stream, settings: StoryModelSettings, names: Sequence[str]) -> Stream:
    """``stream`` with every earlier article within the window as a candidate (no blocking)."""
    scales = settings.weights.time_scales_hours
    columns = [sm.feature_names(scales).index(n) for n in names]
    window_s = settings.window_hours * 3600
    ci, cj, rows = [], [], []
    for i, v in enumerate(stream.vectors):
        for j in range(i):
            if v.ts - stream.vectors[j].ts <= window_s:
                f = sm.pair_features(v, stream.vectors[j], scales)
                ci.append(i)
                cj.append(j)
                rows.append([f[c] for c in columns])
    return replace(
        stream,
        cand_i=np.array(ci, dtype=np.int64),
        cand_j=np.array(cj, dtype=np.int64),
        features=np.array(rows, dtype=np.float64).reshape(len(rows), len(names)),
        label=np.array(
            [stream.story[i] == stream.story[j] for i, j in zip(ci, cj, strict=True)], dtype=np.float64
        ),
    )


def _keys(v: StoryVector, entities: int, terms: int) -> set[tuple[str, int]]:
    return {("e", h) for h in v.key_entities[:entities]} | {("t", h) for h in v.key_terms[:terms]}


@dataclass(frozen=True)
class Blocking:
    """A blocking variant: a pair is a candidate when the two articles share one of their first
    ``keys`` (entities, terms) blocking keys, or (``wider``) at least two of their first
    ``wider`` ones."""

    name: str
    keys: tuple[int, int]
    wider: tuple[int, int] | None = None

    def finds(self, a: StoryVector, b: StoryVector) -> bool:
        if _keys(a, *self.keys) & _keys(b, *self.keys):
            return True
        return self.wider is not None and len(_keys(a, *self.wider) & _keys(b, *self.wider)) >= 2


def keyed_subset(stream: Stream, scores: np.ndarray, blocking: Blocking) -> tuple[Stream, np.ndarray]:
    """The rows of an all-pairs ``stream`` that ``blocking`` finds."""
    v = stream.vectors
    mask = np.array(
        [
            blocking.finds(v[i], v[j])
            for i, j in zip(stream.cand_i.tolist(), stream.cand_j.tolist(), strict=True)
        ],
        dtype=bool,
    )
    sub = replace(
        stream,
        cand_i=stream.cand_i[mask],
        cand_j=stream.cand_j[mask],
        features=stream.features[mask],
        label=stream.label[mask],
    )
    return sub, scores[mask]


BLOCKING_VARIANTS: tuple[Blocking | None, ...] = (  # None: every pair within the window
    Blocking("3 + 2 keys (shipped)", (3, 2)),
    Blocking("4 + 2", (4, 2)),
    Blocking("3 + 3", (3, 3)),
    Blocking("4 + 3", (4, 3)),
    Blocking("5 + 5", (5, 5)),
    Blocking("3 + 2, and 5 + 5 where two are shared", (3, 2), (5, 5)),
    Blocking("3 + 2, and 6 + 6 where two are shared", (3, 2), (6, 6)),
    Blocking("3 + 2, and 8 + 8 where two are shared", (3, 2), (8, 8)),
    None,
)


def diagnose(
    folds: Mapping[str, Sequence[Stream]],
    scores: Mapping[str, Sequence[np.ndarray]],
    recipe: Recipe,
    settings: StoryModelSettings,
    shipped: Thresholds,
) -> dict[str, object]:
    """Dev only: the recall losses of the shipped thresholds (out-of-fold scores), and for each
    blocking variant the candidates per article and the dev metrics at the shipped thresholds and
    at the best pair of ``THRESHOLD_PAIRS``. The variants are scored by the fold models trained on
    the shipped blocking's candidates (not retrained), so they bound what blocking alone gives."""
    from benchmarks import train_story_model as tm

    losses = {
        ds: sum(
            (
                recall_losses(st, sc, shipped, settings.window_hours)
                for st, sc in zip(parts, scores[ds], strict=True)
            ),
            Counter(),
        )
        for ds, parts in folds.items()
    }
    cols = [tm.FEATURES.index(f) for f in recipe.features]
    wide: dict[str, list[tuple[Stream, np.ndarray]]] = {ds: [] for ds in folds}
    for k in range(len(next(iter(folds.values())))):
        coef, b = fit(
            {ds: [p for f, p in enumerate(parts) if f != k] for ds, parts in folds.items()},
            tm.FEATURES,
            recipe,
        )
        for ds, parts in folds.items():
            st = all_pairs(parts[k], settings, tm.FEATURES)
            wide[ds].append((st, predict(st.features[:, cols], coef, b)))
    variants = []
    for blocking in BLOCKING_VARIANTS:
        subs = {
            ds: [keyed_subset(st, sc, blocking) if blocking else (st, sc) for st, sc in parts]
            for ds, parts in wide.items()
        }
        table = {
            t: {
                ds: score_streams([s for s, _ in parts], [c for _, c in parts], t)
                for ds, parts in subs.items()
            }
            for t in THRESHOLD_PAIRS
        }
        n = sum(st.n for parts in subs.values() for st, _ in parts)
        rows = sum(len(st.cand_i) for parts in subs.values() for st, _ in parts)
        best = choose_threshold(table)
        variants.append(
            {
                "blocking": blocking.name if blocking else "every pair within the window",
                "cands_per_article": rows / n,
                "at_shipped": table[shipped],
                "best": best,
                "at_best": table[best],
            }
        )
    return {"losses": {ds: dict(c) for ds, c in losses.items()}, "blocking": variants}


# ----------------------------------------------------------------------------------------------
# Report


def table_row(name: str, m: Mapping[str, Mapping[str, float]]) -> str:
    e, g = m["ecbplus"], m["gva"]
    return (
        f"| {name} | {e['pair_p']:.3f} | {e['pair_r']:.3f} | {e['pair_f1']:.3f} | {e['b3_f1']:.3f} | "
        f"{100 * e['hn_merged']:.1f}% | {g['pair_p']:.3f} | {g['pair_r']:.3f} | {g['pair_f1']:.3f} | {g['b3_f1']:.3f} |"
    )


TABLE_HEAD = (
    "| run | ECB+ P | R | F1 | B³ F1 | hard-neg merged | GVA P | R | F1 | B³ F1 |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def print_diagnosis(found: Mapping[str, object], shipped: Thresholds) -> None:
    losses = found["losses"]
    assert isinstance(losses, dict)
    print(f"\ndev, articles whose story has an earlier article, at join {shipped[0]}, sole {shipped[1]}:")
    for ds, counts in losses.items():
        total = sum(counts.values()) or 1
        print(
            f"  {ds}: "
            + "; ".join(f"{k} {counts.get(k, 0)} ({100 * counts.get(k, 0) / total:.0f}%)" for k in LOSS_KINDS)
        )
    print("\ndev by blocking (fold models of the shipped blocking, not retrained):\n")
    print(
        "| blocking | candidates per article | thresholds | objective | ECB+ F1 | hard-neg merged | GVA F1 | GVA B³ F1 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    variants = found["blocking"]
    assert isinstance(variants, list)
    for v in variants:
        for label, t, m in (("shipped", shipped, v["at_shipped"]), ("best", v["best"], v["at_best"])):
            e, g = m["ecbplus"], m["gva"]
            print(
                f"| {v['blocking']} | {v['cands_per_article']:.1f} | {label} {t[0]:.3f}, {t[1]:.3f} | {objective(m):.3f} | "
                f"{e['pair_f1']:.3f} | {100 * e['hn_merged']:.1f}% | {g['pair_f1']:.3f} | {g['b3_f1']:.3f} |"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ablation", action="store_true", help="retrain without each signal in turn")
    parser.add_argument("--speed", action="store_true", help="the CPU curve at 1k/10k/100k stored articles")
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="dev only: where recall goes, and what other blocking would give",
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args(argv)
    if missing := sd.missing_data():
        print(missing, file=sys.stderr)
        return 2
    from benchmarks import train_story_model as tm

    started = time.perf_counter()
    settings = StoryModelSettings()
    shipped = settings.weights
    report: dict[str, object] = {
        "model_version": shipped.version,
        "threshold": shipped.threshold,
        "sole_threshold": shipped.sole_join_threshold,
    }
    print(
        f"story model {shipped.version}: threshold {shipped.threshold} (sole {shipped.sole_join_threshold}), "
        f"window {settings.window_hours:g} h, "
        f"blocking {settings.blocking_entities} entities + {settings.blocking_terms} terms"
    )

    held = {ds: reference_run(held_out_docs(ds), settings) for ds in sd.DATASETS}
    report["held_out"] = held
    with tempfile.TemporaryDirectory(prefix="newsbeam-story-eval-") as tmp:
        folds = tm.training_folds(tm.spec_settings(Path(tmp)), verbose=False)
        recipe = Recipe(
            shipped.features,
            float(shipped.record.get("recipe", {}).get("l2", 1.0)),
            float(shipped.record.get("recipe", {}).get("hard_negative_weight", 1.0)),
        )
        table, oof = cross_validate(folds, tm.FEATURES, recipe)
        pair = (shipped.threshold, shipped.sole_join_threshold)
        dev = table[pair] if pair in table else table[choose_threshold(table)]
        report["dev"] = dev
        report["dev_by_threshold"] = {str(t): m for t, m in table.items()}
        block = {ds: blocking_stats(parts, settings.window_hours) for ds, parts in folds.items()}
        report["blocking_dev"] = block
        print("\nheld-out (pure reference, shipped model) and dev (3-fold CV on the training parts):\n")
        print(TABLE_HEAD)
        print(table_row("held-out", held))
        print(table_row("dev", dev))
        sole = shipped.sole_join_threshold
        print(f"\ndev by join threshold, sole threshold {sole} (one threshold: sole = join):\n")
        print(TABLE_HEAD)
        for t in THRESHOLDS[::4]:
            if (t, sole) in table:
                print(table_row(f"t = {t:.3f}, sole {sole:.3f}", table[(t, sole)]))
            print(table_row(f"t = {t:.3f}, one threshold", table[(t, t)]))
        for ds, b in block.items():
            print(
                f"blocking, dev {ds}: {100 * b['pair_recall']:.1f}% of same-story pairs within the window are "
                f"candidates; candidates per article mean {b['cands_mean']:.1f}, p95 {b['cands_p95']:.0f}, "
                f"max {b['cands_max']:.0f}"
            )
        if args.diagnose:
            found = diagnose(folds, oof, recipe, settings, pair)
            report["diagnosis"] = found
            print_diagnosis(found, pair)
        if args.ablation:
            rows = ablation(shipped, Path(tmp))
            report["ablation"] = [
                {"dropped": name, "dev": d, "held_out": h, "threshold": t} for name, d, h, t in rows
            ]
            print("\nablation (retrained without the signal, thresholds re-chosen on dev):\n")
            print("| signal dropped | threshold, sole | " + TABLE_HEAD.split("| run | ")[1].split("\n")[0])
            print("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for name, d, h, (t, s) in rows:
                print(table_row(f"{name}, dev | {t:.3f}, {s:.3f}", d))
                print(table_row(f"{name}, held-out | {t:.3f}, {s:.3f}", h))
    everyone = [p for ds in sd.DATASETS for p in sd.pipeline_docs(ds, verbose=False)]
    cost = vector_cost(everyone, settings)
    report["cost"] = cost
    print(
        f"\nstate: vector {cost['bytes_mean']:.0f} B mean (p95 {cost['bytes_p95']:.0f}, max {cost['bytes_max']:.0f}), "
        f"{cost['keys_mean']:.1f} keys per article -> {cost['state_bytes_per_article']:.0f} B of vectors per "
        f"article in state; vector {cost['vector_ms']:.2f} ms, decode {cost['decode_us']:.0f} us, "
        f"score {cost['score_us_fresh']:.0f} us (fresh vectors)"
    )
    if args.speed:
        sizes = [int(x) for x in args.sizes.split(",")]
        curve = speed_curve(everyone, settings, sizes, args.probes)
        report["speed"] = curve
        print("\nCPU per arriving article (the stage's code: vector, keys, bag reads, probe, decision):")
        for row in curve:
            print(
                f"  {row['stored']:>8.0f} stored: {row['ms_per_article']:.2f} ms, "
                f"{row['entries_read_per_article']:.0f} entries read, {row['links_per_article']:.1f} links"
            )
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
