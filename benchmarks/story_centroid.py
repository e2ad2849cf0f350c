"""Pairwise linking vs story centroids, in the pure loop, on the dev folds (evidence, not a stage).

    .venv/bin/python -m benchmarks.story_centroid

The story stage of issue 14 links articles in pairs and keeps no story state. This measures what
a centroid model (Miranda et al. 2018) would give with the same vectors, blocking, window,
features and training protocol: an arriving article is compared with the *stories* of its
blocking candidates, each summarised by the sum of its members' normalised channels (the
heaviest ``CENTROID_TERMS`` per channel, requantised), the union of their numbers and dates
and its newest time, plus three story features (1 / size, Gaussian kernels of the gap to the
oldest and to the mean member time); the best story joins if its score reaches the threshold.
The logistic model is fitted on gold stories built online from the training folds (each article
against the stories of its candidates, label = its own story), threshold chosen by
``story_eval.objective``, 3-fold cross-validation as in ``train_story_model``. Only dev figures:
this is a comparison to decide on, not a shipped model.
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from benchmarks import story_data as sd
from benchmarks import story_eval as se
from benchmarks import train_story_model as tm
from transforms import story_model as sm
from transforms import story_vectors as sv

CENTROID_TERMS = 64
STORY_FEATURES = ("inverse_size", "time_oldest_72h", "time_mean_72h")


class Centroid:
    """A story: summed normalised channel weights of its members, numbers, dates, times."""

    def __init__(self) -> None:
        self.channels: list[defaultdict[int, float]] = [defaultdict(float) for _ in range(4)]
        self.groups: dict[int, int] = {}
        self.numbers: Counter[int] = Counter()
        self.dates: Counter[int] = Counter()
        self.times: list[float] = []

    def add(self, v: sv.StoryVector) -> None:
        for summed, channel in zip(self.channels, (v.title, v.body, v.stems, v.entities), strict=True):
            norm = channel.norm()
            for h, w in zip(channel.hashes, channel.weights, strict=True):
                summed[h] += w / norm
        self.groups.update(zip(v.entities.hashes, v.entity_groups, strict=True))
        self.numbers.update(v.numbers)
        self.dates.update(v.dates)
        self.times.append(v.ts)

    def vector(self) -> sv.StoryVector:
        channels = []
        for summed in self.channels:
            top = sorted(summed.items(), key=lambda kv: (-kv[1], kv[0]))[:CENTROID_TERMS]
            norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
            quantised = [(h, max(1, round(sv.WEIGHT_SCALE * w / norm))) for h, w in top]
            channels.append(sv.Channel(tuple(h for h, _ in quantised), bytes(w for _, w in quantised)))
        title, body, stems, entities = channels
        return sv.StoryVector(
            max(self.times),
            "en",
            title,
            body,
            stems,
            entities,
            bytes(self.groups[h] for h in entities.hashes),
            tuple(h for h, _ in self.numbers.most_common(24)),
            tuple(d for d, _ in self.dates.most_common(16)),
        )


def story_features(v: sv.StoryVector, story: Centroid) -> list[float]:
    pair = sm.pair_features(v, story.vector(), tm.TIME_SCALES_HOURS)
    oldest = abs(v.ts - min(story.times)) / 3600
    mean = abs(v.ts - sum(story.times) / len(story.times)) / 3600
    return [
        *pair,
        1 / len(story.times),
        math.exp(-0.5 * (oldest / 72) ** 2),
        math.exp(-0.5 * (mean / 72) ** 2),
    ]


def online(
    stream: se.Stream, model: tuple[np.ndarray, float] | None = None, threshold: float = 1.0
) -> tuple[np.ndarray, np.ndarray, list[Hashable]]:
    """One pass in stream order. Without ``model``: gold stories (teacher forcing), returning the
    training rows and labels; with it: predicted stories, returned per article."""
    candidates: dict[int, list[int]] = defaultdict(list)
    for i, j in zip(stream.cand_i.tolist(), stream.cand_j.tolist(), strict=True):
        candidates[i].append(j)
    story_of: dict[int, Hashable] = {}
    stories: dict[Hashable, Centroid] = {}
    rows: list[list[float]] = []
    labels: list[float] = []
    for i, v in enumerate(stream.vectors):
        keys = sorted({story_of[j] for j in candidates[i]}, key=str)
        feats = [story_features(v, stories[k]) for k in keys]
        key: Hashable
        if model is None:
            rows += feats
            labels += [float(k == stream.story[i]) for k in keys]
            key = stream.story[i]
        else:
            key = ("new", i)
            if feats:
                scores = se.predict(np.array(feats), *model)
                best = int(np.argmax(scores))
                if scores[best] >= threshold:
                    key = keys[best]
        story_of[i] = key
        stories.setdefault(key, Centroid()).add(v)
    width = len(tm.FEATURES) + len(STORY_FEATURES)
    return np.array(rows).reshape(-1, width), np.array(labels), [story_of[i] for i in range(stream.n)]


def main(argv: Sequence[str] | None = None) -> int:
    if missing := sd.missing_data():
        print(missing, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="newsbeam-centroid-") as tmp:
        folds = tm.training_folds(tm.spec_settings(Path(tmp)), verbose=False)
    l2 = float(sm.StoryModelSettings().weights.record.get("recipe", {}).get("l2", 1.0))
    gold = {ds: [online(p)[:2] for p in parts] for ds, parts in folds.items()}
    models = []
    for k in range(sd.FOLDS):
        xs, ys, ws = [], [], []
        for ds in folds:
            x = np.vstack([gold[ds][f][0] for f in range(sd.FOLDS) if f != k])
            y = np.concatenate([gold[ds][f][1] for f in range(sd.FOLDS) if f != k])
            xs.append(x)
            ys.append(y)
            ws.append(np.full(len(y), 1 / len(y)))
        w = np.concatenate(ws)
        models.append(se.fit_logistic(np.vstack(xs), np.concatenate(ys), w / w.mean(), l2))
    table = {}
    for t in se.THRESHOLDS:
        out = {}
        for ds, parts in folds.items():
            story, group, pred = [], [], []
            for k, stream in enumerate(parts):
                assigned = online(stream, models[k], t)[2]
                story += [f"{k}:{s}" for s in stream.story]
                group += [f"{k}:{g}" if g else "" for g in stream.group]
                pred += [(k, a) for a in assigned]
            out[ds] = se.metrics(story, group, pred)
        table[t] = out
    chosen = se.choose_threshold(table)
    print("story centroids, dev (3-fold CV on the training parts):\n")
    print(se.TABLE_HEAD)
    for t in se.THRESHOLDS[::4]:
        print(se.table_row(f"t = {t:.3f}", table[t]))
    print(se.table_row(f"chosen t = {chosen:.3f}", table[chosen]))
    print(f"objective {se.objective(table[chosen]):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
