"""Prism and local streaming runs: the near-dup and story stages, left out unless asked for."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.config import load_config
from pipelines.ingest import RunPlan, build_pipeline
from tests.pipeline.labels import CONFIG, FEEDS_BASE_URL, STREAMING_S, labels_of


@pytest.mark.parametrize("opt_in", [False, True])
def test_keyed_stages_only_with_local_streaming_keyed_stages(tmp_path: Path, opt_in: bool) -> None:
    config = load_config(CONFIG, output=str(tmp_path), feeds_base_url=FEEDS_BASE_URL)
    config = config.model_copy(update={"local_streaming_keyed_stages": opt_in})
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    plan = RunPlan(output=str(tmp_path), duration_s=STREAMING_S, local_streaming=True)
    build_pipeline(pipeline, config, plan)
    stages = {label.split("/")[0] for label in labels_of(pipeline)}
    assert ("Mark near-duplicates" in stages) is opt_in
    assert ("Assign stories" in stages) is opt_in


def test_the_settings_compare_in_arrival_order_there_and_in_time_order_elsewhere(tmp_path: Path) -> None:
    config = load_config(CONFIG, output=str(tmp_path), feeds_base_url=FEEDS_BASE_URL)
    assert config.near_dup_settings(in_arrival_order=True).release_on_arrival
    assert config.story_settings(in_arrival_order=True).release_on_arrival
    assert not config.near_dup_settings().release_on_arrival
    assert not config.story_settings().release_on_arrival
    # the local FnApiRunner's early timers never free state
    assert not config.story_settings(timers_fire_early=True).free_idle_keys
    assert not config.near_dup_settings(timers_fire_early=True).free_idle_keys
