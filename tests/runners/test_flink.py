"""The pipeline on an embedded Flink cluster: ``--runner=FlinkRunner --flink_master=[local]``.

The FlinkRunner starts Beam's Flink job server from a jar
(``org.apache.beam:beam-runners-flink-<flink>-job-server:<beam>``, Java 11/17), which with
``[local]`` runs a Flink mini-cluster in the same JVM. The SDK harness runs in LOOPBACK mode,
inside the submitting ``newsbeam`` process (the default, DOCKER, needs the Beam SDK image).

The jar comes from ``NEWSBEAM_FLINK_JOB_SERVER_JAR`` or from the cache that
``scripts/fetch-runners`` fills from Maven Central
(``~/.cache/newsbeam/flink/beam-runners-flink-<flink>-job-server-<beam>.jar``); its name
gives ``--flink_version``. Without a jar (or without Java) this test skips and says why. On the
machine this was written on, the Maven mirror answered "not found" for the job-server jar of
every Flink version Beam 2.75 publishes (1.19, 1.20, 2.0, 2.1, 2.2), so it skipped there.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from samples.server import SampleSite
from tests.runners.support import (
    BEAM_VERSION,
    CACHE,
    assert_bounded_run_matches_manifest,
    newsbeam_run,
    once_args,
)

pytestmark = pytest.mark.runners

JAR_NAME = re.compile(r"beam-runners-flink-(\d+\.\d+)-job-server-(.+)\.jar$")


def _job_server_jar() -> tuple[Path, str]:
    configured = os.environ.get("NEWSBEAM_FLINK_JOB_SERVER_JAR")
    if configured:
        jar = Path(configured)
        if not jar.is_file():
            pytest.fail(f"NEWSBEAM_FLINK_JOB_SERVER_JAR={configured}: no such file")
        candidates = [jar]
    else:
        candidates = sorted((CACHE / "flink").glob(f"beam-runners-flink-*-job-server-{BEAM_VERSION}.jar"))
    if not candidates:
        pytest.skip(f"no Flink job-server jar for Beam {BEAM_VERSION}: {_why_no_jar()}")
    jar = candidates[-1]
    match = JAR_NAME.search(jar.name)
    if not match:
        pytest.fail(f"{jar.name}: expected beam-runners-flink-<flink version>-job-server-<beam>.jar")
    if match.group(2) != BEAM_VERSION:
        pytest.fail(f"{jar.name} is for Beam {match.group(2)}, the SDK is {BEAM_VERSION}")
    return jar, match.group(1)


def _why_no_jar() -> str:
    logs = sorted((CACHE / "flink").glob(f"mvn-*-{BEAM_VERSION}.log"))
    if not logs:
        return "run scripts/fetch-runners, or set NEWSBEAM_FLINK_JOB_SERVER_JAR to one"
    not_found = [
        log.name.split("-")[1]
        for log in logs
        if re.search(r"Could not find artifact|was not found in", log.read_text(errors="replace"))
    ]
    reason = (
        f"Maven Central (as reachable here) has no beam-runners-flink-{{{','.join(not_found)}}}"
        f"-job-server:{BEAM_VERSION}"
        if not_found
        else "scripts/fetch-runners could not download one"
    )
    return f"{reason} (logs in {CACHE / 'flink'}); set NEWSBEAM_FLINK_JOB_SERVER_JAR to a jar from elsewhere"


def test_bounded_run_on_embedded_flink_matches_the_manifest(sample_site: SampleSite, tmp_path: Path) -> None:
    if shutil.which("java") is None:
        pytest.skip("java is not installed (the Flink job server needs Java 11 or 17)")
    jar, flink_version = _job_server_jar()
    run = newsbeam_run(
        once_args(
            sample_site.base_url,
            "--runner=FlinkRunner",
            "--flink_master=[local]",
            f"--flink_job_server_jar={jar}",
            f"--flink_version={flink_version}",
            "--environment_type=LOOPBACK",
            "--parallelism=2",
        ),
        tmp_path / "out",
        timeout_s=480,
    )
    assert_bounded_run_matches_manifest(run, sample_site.base_url)
