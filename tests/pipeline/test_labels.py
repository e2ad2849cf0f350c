"""Transform labels are stable: the streaming graph's labels equal the golden stage_labels.txt.

Dataflow ``--update`` and Flink savepoints match the running job's state to the new graph by
transform label, so renaming a step (or letting Beam name it after a lambda's line number) breaks
updating a running job. When a change is deliberate (a stage added, a step renamed), regenerate:

    NEWSBEAM_UPDATE_LABELS=1 .venv/bin/python -m pytest tests/pipeline/test_labels.py
"""

from __future__ import annotations

import os
import re

import pytest

from tests.pipeline.labels import (
    GOLDEN,
    REPO,
    UPDATE_COMMAND,
    UPDATE_ENV,
    current_labels,
    read_golden,
    write_golden,
)

LAMBDA = re.compile(r"<lambda at ([\w.]+):\d+>")


@pytest.fixture(scope="module")
def labels(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return current_labels(str(tmp_path_factory.mktemp("labels") / "out"))


def test_stage_labels_match_the_golden_file(labels: list[str]) -> None:
    if os.environ.get(UPDATE_ENV) == "1":
        write_golden(labels)
    golden = read_golden()
    added = sorted(set(labels) - set(golden))
    removed = sorted(set(golden) - set(labels))
    assert not added and not removed, (
        "The job graph's transform labels changed.\n"
        + "".join(f"  + {label}\n" for label in added)
        + "".join(f"  - {label}\n" for label in removed)
        + "Labels identify state across Dataflow --update and Flink savepoints: an unintended "
        "rename loses a running job's state (seen URLs, feed ETags) or makes the update fail. "
        f"If the change is deliberate, regenerate {GOLDEN.name} and review its diff:\n"
        f"  {UPDATE_COMMAND}"
    )


def test_our_steps_are_labelled_explicitly(labels: list[str]) -> None:
    top = [label for label in labels if "/" not in label]
    assert all(not re.search(r"[<>()]", label) for label in top), top
    # An unlabelled Map/ParDo is named after its lambda's line, which moves with every edit.
    ours = {path.name for folder in ("pipelines", "transforms") for path in (REPO / folder).glob("*.py")}
    lambdas = [label for label in labels if (m := LAMBDA.search(label)) and m.group(1) in ours]
    assert not lambdas, f"give these steps a label: {lambdas}"
