"""The transform labels of the streaming job graph, and the golden file that pins them.

Shared by tests/pipeline/test_labels.py (labels unchanged) and tests/runners/test_dataflow.py
(every pinned stage survives the DataflowRunner's graph translation).
"""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.config import ConfigFeeds, load_config
from pipelines.ingest import RunPlan, build_pipeline

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "local.yaml"
GOLDEN = Path(__file__).with_name("stage_labels.txt")
UPDATE_ENV = "NEWSBEAM_UPDATE_LABELS"
UPDATE_COMMAND = f"{UPDATE_ENV}=1 .venv/bin/python -m pytest tests/pipeline/test_labels.py"
# The graph that gets deployed and updated: polling feeds, streaming (--duration/--follow).
FEEDS_BASE_URL = "http://127.0.0.1:8765"
STREAMING_S = 3600.0

HEADER = f"""\
# Transform labels of the streaming job graph (config/local.yaml, polling feeds), one per line.
# Dataflow `--update` and Flink savepoints map running state to the new graph by these labels:
# a renamed step loses its state (seen URLs, ETags, robots.txt) or refuses the update.
# Checked by tests/pipeline/test_labels.py. After a deliberate change, regenerate with
#   {UPDATE_COMMAND}
# and review the diff (and, for a running job, pass --transform_name_mapping on update).
"""


def build_streaming_graph(pipeline: beam.Pipeline, output: str) -> None:
    """The streaming ingestion graph, as ``newsbeam run --duration/--follow`` builds it."""
    config = load_config(CONFIG, output=output, feeds_base_url=FEEDS_BASE_URL)
    reload = ConfigFeeds(str(CONFIG), FEEDS_BASE_URL) if config.polling.reload_feeds else None
    build_pipeline(pipeline, config, RunPlan(output=output, duration_s=STREAMING_S, reload_feeds=reload))


def labels_of(pipeline: beam.Pipeline) -> list[str]:
    """Every transform's full label (composites and their parts), as runners receive them."""
    proto = pipeline.to_runner_api()
    roots = set(proto.root_transform_ids)
    return sorted(
        {
            transform.unique_name
            for transform_id, transform in proto.components.transforms.items()
            if transform_id not in roots
        }
    )


def current_labels(output: str) -> list[str]:
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    build_streaming_graph(pipeline, output)
    return labels_of(pipeline)


def read_golden() -> list[str]:
    lines = GOLDEN.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def write_golden(labels: list[str]) -> None:
    GOLDEN.write_text(HEADER + "".join(f"{label}\n" for label in labels), encoding="utf-8")
