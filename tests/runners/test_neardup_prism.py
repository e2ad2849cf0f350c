"""``MarkNearDuplicates`` on Prism (parallel bundles, real watermarks) equals the FnApiRunner."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.cli import find_prism
from tests.pipeline.test_neardup import borderline, bursts, check_earliest_copies, run_to_files

pytestmark = [
    pytest.mark.runners,
    pytest.mark.skipif(find_prism() is None, reason="no Prism binary: run `make prism` first"),
]


def test_prism_gives_the_same_result_as_one_worker(tmp_path: Path) -> None:
    near, expected = borderline()  # pairs only the exact check decides right
    articles = bursts() + near
    rng = random.Random(8)
    one = run_to_files(
        rng.sample(articles, len(articles)), tmp_path / "one", PipelineOptions(runner="FnApiRunner")
    )
    prism = run_to_files(
        rng.sample(articles, len(articles)),
        tmp_path / "prism",
        PipelineOptions(runner="PrismRunner", prism_location=str(find_prism()), environment_type="LOOPBACK"),
    )
    assert prism == one
    check_earliest_copies(articles, prism)
    assert {k: prism[k][0] for k in expected} == expected
