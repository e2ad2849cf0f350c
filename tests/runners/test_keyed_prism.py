"""Near-duplicates then stories on Prism, fed by a TestStream in random arrival orders: the
property of ``tests/streaming/test_keyed_property.py`` with both stages chained, on a runner whose
event-time timers hold their step's output watermark (the BundleBasedDirectRunner's do not, so
there a stage fed by another stage's timers may see its input late)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.cli import find_prism
from tests.streaming.test_keyed_property import NEAR, STORIES, arrivals, corpus, expected, run
from transforms.neardup import MarkNearDuplicates
from transforms.stories import AssignStories

pytestmark = [
    pytest.mark.runners,
    pytest.mark.skipif(find_prism() is None, reason="no Prism binary: run `make prism` first"),
]


@pytest.mark.parametrize("seed", range(3))
def test_both_stages_in_any_arrival_order_are_the_references(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    articles = corpus(rng)
    want = expected(articles)
    options = PipelineOptions(
        runner="PrismRunner", prism_location=str(find_prism()), environment_type="LOOPBACK", streaming=True
    )
    stages = MarkNearDuplicates(NEAR) | AssignStories(STORIES)
    got = run(stages, arrivals(articles, rng), tmp_path / "out", options)
    assert len(got) == len(articles)
    assert set(got) == want
