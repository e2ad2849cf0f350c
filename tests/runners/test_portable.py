"""Portable submission: Beam's own job service plus an EXTERNAL worker pool, separate processes.

    python -m apache_beam.runners.portability.local_job_service_main --port N
    python -m apache_beam.runners.worker.worker_pool_main --service_port M
    newsbeam run ... --runner=PortableRunner --job_endpoint=localhost:N \\
        --environment_type=EXTERNAL --environment_config=localhost:M

This is the shape of a deployment on Flink or Spark with a worker-pool sidecar: the client
submits a portable pipeline over gRPC, the job service (here it executes the job with the
FnApiRunner inside its own process) asks the worker pool to start one SDK harness per
environment, and the harnesses run our DoFns.

Gotchas found here (Beam 2.75):

- ``worker_pool_main`` starts every SDK harness as ``python -c ...`` -- the ``python`` found on
  ``PATH``, not its own interpreter. Without the virtualenv's ``bin`` first on ``PATH`` the
  harness dies with ``ModuleNotFoundError: No module named 'apache_beam'``, and the job does
  *not* fail: it waits for a worker that never connects until the client's state stream hits
  its gRPC deadline (five minutes). So the fixture puts ``sys.executable``'s directory first.
- Workers need ``pipelines``/``transforms`` importable: the package must be installed in that
  interpreter (``pip install -e .``); nothing is staged to an EXTERNAL pool.
- The pool's harness processes survive a plain SIGTERM of the pool (its cleanup is an ``atexit``
  hook, which SIGTERM does not run). The fixture starts each service in its own session and
  signals the whole process group.
- The pool reads each harness's stdout through a pipe it never drains; a DoFn that prints a lot
  would block. Our DoFns log, they do not print.
- The job service needs a moment to listen; the fixture waits for the port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from samples.server import SampleSite
from tests.runners.support import (
    REPO,
    assert_bounded_run_matches_manifest,
    free_port,
    newsbeam_run,
    once_args,
    wait_for_port,
)

pytestmark = pytest.mark.runners


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=_environment(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its workers
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # and the harnesses the pool started
    process.wait(5)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A local job service and an EXTERNAL worker pool on free ports, stopped afterwards."""
    logs = tmp_path_factory.mktemp("services")
    job_port, pool_port = free_port(), free_port()
    started: list[subprocess.Popen[bytes]] = []
    try:
        job_service = _start(
            [
                sys.executable,
                "-m",
                "apache_beam.runners.portability.local_job_service_main",
                "--port",
                str(job_port),
            ],
            logs / "job_service.log",
        )
        started.append(job_service)
        pool = _start(
            [
                sys.executable,
                "-m",
                "apache_beam.runners.worker.worker_pool_main",
                "--service_port",
                str(pool_port),
            ],
            logs / "worker_pool.log",
        )
        started.append(pool)
        wait_for_port(job_port, 60, job_service, logs / "job_service.log")
        wait_for_port(pool_port, 60, pool, logs / "worker_pool.log")
        yield {"job_port": job_port, "pool_port": pool_port, "pool_log": logs / "worker_pool.log"}
    finally:
        for process in reversed(started):
            _stop(process)


def test_job_service_with_external_worker_pool_matches_the_manifest(
    services: dict[str, object], sample_site: SampleSite, tmp_path: Path
) -> None:
    run = newsbeam_run(
        once_args(
            sample_site.base_url,
            "--runner=PortableRunner",
            f"--job_endpoint=localhost:{services['job_port']}",
            "--environment_type=EXTERNAL",
            f"--environment_config=localhost:{services['pool_port']}",
        ),
        tmp_path / "out",
        timeout_s=300,
    )
    assert_bounded_run_matches_manifest(run, sample_site.base_url)
    pool_log = Path(str(services["pool_log"])).read_text(errors="replace")
    assert "Starting worker with command" in pool_log, "the EXTERNAL worker pool started no harness"
    assert "ModuleNotFoundError" not in pool_log, pool_log
