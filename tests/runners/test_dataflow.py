"""The streaming job graph as the DataflowRunner builds and validates it, offline.

``--runner=DataflowRunner --dry_run=True --no_auth --streaming`` runs every step of a
submission except the API call: PTransform overrides, the runner-v2 portable proto, the Docker
environment and its staged artifacts, streaming options. Needs the ``[gcp]`` extra
(``pip install -c constraints.txt -e '.[gcp]'``); skipped without it.

Staging a pyproject-only package (Beam 2.75):

- ``--setup_file=pyproject.toml`` is accepted, but the stager builds the sdist with
  ``python -m build --no-isolation --sdist``, so the ``build`` package must be installed (it is
  not a dependency of Beam); without it: "Failed to build package from ... using 'python -m
  build'".
- ``--setup_file=setup.py`` with a two-line shim (``from setuptools import setup; setup()``)
  works without ``build``: the stager falls back to ``python setup.py sdist``.
- ``--extra_package=newsbeam-<v>-py3-none-any.whl`` works with nothing added to the repo; this
  test builds the wheel (``pip wheel --no-deps --no-build-isolation --no-index``) from a copy
  of the sources so the checkout gets no ``build/`` directory, and checks it is staged.

Other gotchas: ``--project`` must look like a real project id and the ``gs://`` bucket name must
be valid (3+ characters): when neither ``--temp_location`` nor ``--staging_location`` validates,
Beam tries to *create a default bucket* over the network, even with ``--dry_run``. This test
refuses any connection that is not to localhost, so such a regression fails fast.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from tests.pipeline.labels import build_streaming_graph, read_golden
from tests.runners.support import REPO, STAGES

pytestmark = pytest.mark.runners

DATAFLOW_ARGS = [
    "--runner=DataflowRunner",
    "--dry_run=True",
    "--no_auth",
    "--project=newsbeam-dry-run",
    "--region=us-central1",
    "--temp_location=gs://newsbeam-dry-run/tmp",
    "--streaming",
    "--job_name=newsbeam-dry-run",
]


@pytest.fixture(scope="module")
def gcp() -> None:
    pytest.importorskip(
        "apache_beam.runners.dataflow.internal.apiclient",
        reason="the [gcp] extra is not installed: pip install -c constraints.txt -e '.[gcp]'",
    )


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any name lookup other than localhost fails at once (no 120 s of retries to GCS)."""
    real = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("localhost", "127.0.0.1", "::1", None):
            raise OSError(f"test_dataflow is offline: refused to resolve {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in ("pipelines", "transforms", "samples"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = dist.glob("newsbeam-*.whl")
    return built


def test_streaming_graph_builds_for_dataflow_with_the_package_staged(
    gcp: None, offline: None, wheel: Path
) -> None:
    from google.cloud import dataflow

    options = PipelineOptions([*DATAFLOW_ARGS, f"--extra_package={wheel}"], save_main_session=False)
    pipeline = beam.Pipeline(options=options)
    build_streaming_graph(pipeline, "gs://newsbeam-dry-run/out")
    result = pipeline.run()
    result.wait_until_finish()

    assert options.view_as(StandardOptions).streaming
    job = cast(Any, result).job  # apiclient.Job: what would be sent to the Dataflow API
    assert job.proto.type_ == dataflow.JobType.JOB_TYPE_STREAMING
    proto = job.proto_pipeline
    names = {transform.unique_name for transform in proto.components.transforms.values()}
    top = {name for name in names if "/" not in name}
    assert top >= set(STAGES), f"missing stages: {sorted(set(STAGES) - top)}"
    # Every label pinned for updates is in the graph Dataflow would run (none renamed by it).
    missing = sorted(set(read_golden()) - names)
    assert not missing, f"labels lost in the Dataflow translation: {missing}"

    staged = {
        dependency.role_payload
        for environment in proto.components.environments.values()
        for dependency in environment.dependencies
    }
    assert any(wheel.name.encode() in payload for payload in staged), (
        f"{wheel.name} is not among the staged artifacts"
    )
    assert all(
        environment.urn == "beam:env:docker:v1" for environment in proto.components.environments.values()
    )
