"""Two worker processes write the same rows as one: ``--direct_num_workers=2
--direct_running_mode=multi_processing``.

What runs: the **FnApiRunner** (newsbeam's default runner) with
``SubprocessSDKEnvironment`` -- it starts ``python -m apache_beam.runners.worker.sdk_worker_main``
once per worker and spreads bundles over them. The options are read in
``fn_runner.FnApiRunner.run_pipeline``; only the FnApiRunner honours them.

``--runner=DirectRunner`` would not exercise this: its switch (``direct_runner.py``,
``SwitchingDirectRunner``) first tries Prism, downloading the binary from GitHub releases unless
``--prism_location`` is given (offline: it logs the failure and falls back); Prism ignores the
``direct_*`` options. It then refuses the FnApiRunner for any graph with a processing-time timer
(``GroupIntoBatches`` in WriteParquetPartitions has one) and runs the BundleBasedDirectRunner,
which is single-process and ignores both options too.

The workers import ``pipelines``/``transforms`` from the installed package (``pip install -e``),
not from a pickled main session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from samples.server import SampleSite
from tests.runners.support import Run, decisions, failures, newsbeam_run, once_args

pytestmark = pytest.mark.runners

# Logged once by each SDK harness that sdk_worker_main starts (the in-memory mode starts none).
WORKER_STARTED = "No semi_persistent_directory found"


def _rows(run: Run) -> dict[str, tuple[Any, ...]]:
    rows = (
        run.db()
        .sql("SELECT article_id, canonical_url, content_hash, language, list_sort(entities) FROM articles")
        .fetchall()
    )
    by_id = {article_id: tuple(rest) for article_id, *rest in rows}
    assert len(by_id) == len(rows), "an article was written twice"
    return by_id


def test_two_worker_processes_write_the_same_rows_as_one(
    sample_site: SampleSite, reference_run: Run, tmp_path: Path
) -> None:
    one = reference_run
    two = newsbeam_run(
        once_args(sample_site.base_url, "--direct_num_workers=2", "--direct_running_mode=multi_processing"),
        tmp_path / "two",
    )
    assert one.log.count(WORKER_STARTED) == 0
    assert two.log.count(WORKER_STARTED) >= 2, "multi_processing did not start two SDK workers"

    rows_one, rows_two = _rows(one), _rows(two)
    assert rows_one, "the one-worker run wrote no articles"
    assert set(rows_two) == set(rows_one)
    differing = [article_id for article_id in rows_one if rows_one[article_id] != rows_two[article_id]]
    assert not differing, (
        f"{len(differing)} articles differ, e.g. {rows_one[differing[0]]} != {rows_two[differing[0]]}"
    )
    assert decisions(two.db()) == decisions(one.db())  # the same duplicate_of and story_id
    assert failures(two.db()) == failures(one.db())
    assert two.count("rows written") == len(rows_two)
