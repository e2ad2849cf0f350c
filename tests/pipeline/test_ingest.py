"""How ``build_pipeline`` sets up the keyed stages for bounded and streaming runs."""

from __future__ import annotations

import math
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.config import load_config
from pipelines.ingest import RunPlan, build_pipeline
from tests.pipeline.labels import CONFIG, FEEDS_BASE_URL
from transforms.neardup import MarkNearDuplicates
from transforms.stories import AssignStories


def _stages(plan: RunPlan, tmp_path: Path) -> tuple[MarkNearDuplicates, AssignStories]:
    config = load_config(CONFIG, output=str(tmp_path), feeds_base_url=FEEDS_BASE_URL)
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    build_pipeline(pipeline, config, plan)
    found: dict[type, beam.PTransform] = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node: beam.pipeline.AppliedPTransform) -> None:
            found[type(node.transform)] = node.transform

    pipeline.visit(Visitor())
    return found[MarkNearDuplicates], found[AssignStories]  # type: ignore[return-value]


@pytest.mark.parametrize("duration_s", [None, 60.0])
def test_bounded_runs_give_the_keyed_stages_unbounded_lateness(
    duration_s: float | None, tmp_path: Path
) -> None:
    """Bounded input (one poll, a backfill) reaches the keyed stages in any order, so nothing may
    be forgotten for arriving far behind its key's newest article; streaming runs keep the
    configured lateness, which bounds their state."""
    near, stories = _stages(RunPlan(output=str(tmp_path), duration_s=duration_s), tmp_path)
    bounded = duration_s is None
    assert math.isinf(near._settings.allowed_lateness_s) == bounded
    assert math.isinf(stories._settings.allowed_lateness_hours) == bounded
