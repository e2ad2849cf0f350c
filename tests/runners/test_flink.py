"""The quick Flink tier: the pipeline on an embedded Flink cluster (``--flink_master=[local]``).

``newsbeam run --runner=FlinkRunner --flink_master=[local]`` starts Beam's Flink job server from
the cached jar (``make flink``; newsbeam adds ``--flink_job_server_jar`` and
``--flink_version``), which runs a Flink mini-cluster inside its own JVM; the Python SDK harness
runs in LOOPBACK mode, inside the submitting ``newsbeam`` process (Beam's default for
``[local]``).  No cluster processes, so it is the cheapest check that the job-server jar, the
SDK and the graph agree.  ``test_flink_cluster.py`` runs the same pipeline on a real cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from samples.server import SampleSite
from tests.runners.conftest import require_flink
from tests.runners.support import assert_bounded_run_matches_manifest, newsbeam_run, once_args

pytestmark = pytest.mark.runners


def test_bounded_run_on_embedded_flink_matches_the_manifest(sample_site: SampleSite, tmp_path: Path) -> None:
    require_flink()
    run = newsbeam_run(
        once_args(sample_site.base_url, "--runner=FlinkRunner", "--flink_master=[local]", "--parallelism=2"),
        tmp_path / "out",
        timeout_s=480,
    )
    assert "beam-runners-flink-1.19-job-server-" in run.log, "the Flink job server was not started"
    assert_bounded_run_matches_manifest(run, sample_site.base_url)
