"""Fixtures for the runner tests (``pytest -m runners tests/runners``, or ``make runners``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from pipelines.flink import DIST, FLINK_VERSION, Cluster, ClusterSpec, find_job_server_jar, local_cluster
from samples.server import SampleSite
from tests.runners.support import Run, free_port, newsbeam_run, once_args


@pytest.fixture(scope="session")
def sample_site() -> Iterator[SampleSite]:
    """The bundled sample site, all items released; shared so article ids agree across runs."""
    with SampleSite() as site:
        yield site


@pytest.fixture(scope="session")
def reference_run(sample_site: SampleSite, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A bounded run over the sample site on the default runner (the FnApiRunner, one worker):
    what every other runner's output is compared with."""
    return newsbeam_run(once_args(sample_site.base_url), tmp_path_factory.mktemp("reference") / "out")


def require_flink() -> None:
    """Skip (saying what to run) unless java, the job-server jar and the Flink distribution are here."""
    if shutil.which("java") is None:
        pytest.skip("java is not installed (Flink 1.19 and its job server need Java 11 or 17)")
    jar = find_job_server_jar()
    if jar is None or not jar.is_file():
        pytest.skip("no Flink job-server jar: run `make flink` (scripts/fetch-runners flink)")
    if not (DIST / "lib" / f"flink-dist-{FLINK_VERSION}.jar").is_file():
        pytest.skip(f"no Flink {FLINK_VERSION} distribution in {DIST}: run `make flink`")


@pytest.fixture(scope="session")
def flink_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A Flink session cluster of a JobManager and two one-slot TaskManagers on free ports.

    Started the way ``newsbeam flink up`` starts one, in a temporary directory, so it never
    meets a cluster a user runs on the default ports; stopped (its process groups) at the end.
    """
    require_flink()
    spec = ClusterSpec(task_managers=2, slots=1, rest_port=free_port(), rpc_port=free_port())
    with local_cluster(spec, tmp_path_factory.mktemp("flink")) as cluster:
        yield cluster
