"""The page-type training script's pure parts: the fit, the threshold, the model file it writes."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.train_pagetype import DROP_BUDGET, Example, fit, render, scores, threshold_for, train


def test_fit_learns_the_sign_of_a_separating_signal() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=400), rng.normal(size=400)])
    y = (x[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(float)
    model = fit(x, y, lam=1.0)
    _mean, _scale, beta = model
    assert beta[1] > 2 and abs(beta[2]) < 0.5
    predicted = scores(model, x) > 0
    assert (predicted == y.astype(bool)).mean() > 0.9


def test_the_threshold_keeps_all_but_the_drop_budget_of_articles() -> None:
    oof = np.linspace(-5, 5, 1001)
    y = np.ones_like(oof)
    threshold = threshold_for(oof, y)
    assert np.mean(oof < threshold) == pytest.approx(DROP_BUDGET, abs=0.002)


def test_train_writes_a_model_that_loads_back() -> None:
    rng = np.random.default_rng(1)
    examples = []
    for index in range(60):
        is_article = index % 2 == 0
        evidence = {"signal": float(is_article) + rng.normal(scale=0.3), "noise": float(rng.normal())}
        page_type = "article" if is_article else "product"
        examples.append(Example("wcxb", f"{index:04d}", f"site{index}.example", page_type, evidence))
    model = train(examples)
    assert set(model["weights"]) == {"signal", "noise"}  # type: ignore[arg-type]
    namespace: dict[str, object] = {}
    exec(compile(render(model), "pagetype_model.py", "exec"), namespace)
    assert namespace["MODEL"] == model
