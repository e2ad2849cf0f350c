"""Trains the article/not-article model of ``transforms.pagetype`` and writes
``transforms/pagetype_model.py``.

Data: the ``dev`` halves only (the ``test`` halves are held out for
``benchmarks.extraction_quality``): extraction-wcxb-dev pages (articles and the six other page
types; split by registered domain, ``benchmarks.wcxb.split_of``) and extraction-aeb pages (all
articles; ``benchmarks.aeb.split_of``).  Evidence is what the stage computes:
``transforms.extract.extract_html(html, url).evidence``.

Model: L2-regularised logistic regression on standardised features (all but
``transforms.pagetype.HAND_SET``, weighed by hand) (Newton's method, numpy).
The regularisation strength is the one, among ``LAMBDAS``, with the fewest non-articles kept
at the threshold in a 5-fold cross-validation grouped by domain; the threshold is the
out-of-fold score below which ``DROP_BUDGET`` of the dev articles fall (the decision favours
keeping articles).  The final weights are fitted on all dev pages.

    .venv/bin/python -m benchmarks.train_pagetype [--dry-run]

Exits 2 when the data is absent.
"""

from __future__ import annotations

import argparse
import hashlib
import pprint
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import aeb, wcxb

MODEL_FILE = Path(__file__).resolve().parent.parent / "transforms" / "pagetype_model.py"
VERSION = 1
FOLDS = 5
LAMBDAS = (0.3, 1.0, 3.0, 10.0, 30.0)
DROP_BUDGET = 0.0075  # out-of-fold share of dev articles below the threshold


@dataclass(frozen=True)
class Example:
    source: str
    page_id: str
    domain: str
    page_type: str
    evidence: dict[str, float]

    @property
    def is_article(self) -> bool:
        return self.page_type == "article"


def dev_examples() -> list[Example]:
    """Every dev page of both sets with the stage's evidence."""
    from courlan import extract_domain

    from transforms.extract import extract_html

    examples = []
    for page in wcxb.load_pages():
        if page.split == "dev":
            evidence = dict(extract_html(page.html, page.url).evidence)
            examples.append(Example("wcxb", page.page_id, page.domain, page.page_type, evidence))
    for apage in aeb.load_pages():
        if apage.split == "dev":
            evidence = dict(extract_html(apage.html, apage.url).evidence)
            domain = extract_domain(apage.url) or apage.url
            examples.append(Example("aeb", apage.page_id, domain, "article", evidence))
    return examples


def fit(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, scale, coefficients with the intercept first) of an L2 logistic regression."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    beta = np.zeros(z.shape[1])
    penalty = lam * np.eye(z.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        gradient = z.T @ (p - y) + penalty @ beta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, beta


def scores(model: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    mean, scale, beta = model
    return np.asarray(beta[0] + ((x - mean) / scale) @ beta[1:])


def fold_of(domain: str) -> int:
    return int.from_bytes(hashlib.sha256(f"newsbeam-fold:{domain}".encode()).digest()[:4], "big") % FOLDS


def out_of_fold(x: np.ndarray, y: np.ndarray, folds: np.ndarray, lam: float) -> np.ndarray:
    result = np.zeros(len(y))
    for fold in range(FOLDS):
        held = folds == fold
        result[held] = scores(fit(x[~held], y[~held], lam), x[held])
    return result


def threshold_for(oof: np.ndarray, y: np.ndarray) -> float:
    return float(np.quantile(oof[y == 1], DROP_BUDGET))


def train(examples: Sequence[Example]) -> dict[str, object]:
    from transforms.pagetype import HAND_SET

    names = [name for name in examples[0].evidence if name not in HAND_SET]
    x = np.array([[e.evidence[n] for n in names] for e in examples], dtype=float)
    y = np.array([e.is_article for e in examples], dtype=float)
    folds = np.array([fold_of(e.domain) for e in examples])
    trials = {}
    for lam in LAMBDAS:
        oof = out_of_fold(x, y, folds, lam)
        threshold = threshold_for(oof, y)
        trials[lam] = (float(np.mean(oof[y == 0] >= threshold)), threshold, oof)
    lam = min(trials, key=lambda k: trials[k][0])
    kept_others, threshold, oof = trials[lam]
    mean, scale, beta = fit(x, y, lam)
    by_type: dict[str, list[int]] = {}
    for example, score in zip(examples, oof, strict=True):
        counts = by_type.setdefault(example.page_type, [0, 0])
        counts[0] += 1
        counts[1] += int(score >= threshold)
    return {
        "version": VERSION,
        "trained_on": (
            "dev halves: extraction-wcxb-dev (split by registered domain, benchmarks.wcxb.split_of) "
            "and extraction-aeb (benchmarks.aeb.split_of); benchmarks/train_pagetype.py"
        ),
        "pages": {"articles": int(y.sum()), "other": int(len(y) - y.sum())},
        "lambda": lam,
        "intercept": round(float(beta[0]), 6),
        "weights": {n: round(float(w), 6) for n, w in zip(names, beta[1:], strict=True)},
        "scale": {
            n: (round(float(m), 6), round(float(s), 6)) for n, m, s in zip(names, mean, scale, strict=True)
        },
        "threshold": round(threshold, 6),
        "cross_validation": {
            "folds": FOLDS,
            "articles_dropped": round(float(np.mean(oof[y == 1] < threshold)), 4),
            "other_kept": round(kept_others, 4),
            "kept_by_type": {t: f"{c[1]}/{c[0]}" for t, c in sorted(by_type.items())},
            "other_kept_by_lambda": {str(k): round(v[0], 4) for k, v in trials.items()},
        },
    }


def render(model: dict[str, object]) -> str:
    return (
        '"""The article/not-article model of ``transforms.pagetype``: generated by\n'
        "``benchmarks/train_pagetype.py`` (do not edit by hand; rerun it).\n\n"
        "Weights apply to standardised features ((value - mean) / scale); ``threshold`` is on the\n"
        'log-odds.  ``cross_validation`` holds the dev figures it was chosen on."""\n\n'
        "from typing import Any\n\n"
        f"MODEL: dict[str, Any] = {pprint.pformat(model, width=100, sort_dicts=False)}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the model, do not write it")
    args = parser.parse_args(argv)
    if not (wcxb.data_present() and aeb.data_present()):
        print("../shared/data/extraction-wcxb-dev or extraction-aeb is absent", file=sys.stderr)
        return 2
    model = train(dev_examples())
    print(pprint.pformat(model["cross_validation"], width=100), file=sys.stderr)
    if args.dry_run:
        print(render(model))
    else:
        MODEL_FILE.write_text(render(model), encoding="utf-8")
        # the project's formatting (ruff, a dev dependency), so that `make lint` stays clean
        subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(MODEL_FILE)], check=False)
        print(f"wrote {MODEL_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
