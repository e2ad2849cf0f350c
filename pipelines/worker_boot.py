"""Start Python SDK harnesses for a Beam ``PROCESS`` environment (``deploy/flink/sdk-worker``).

A portable runner (Flink's TaskManagers here) starts the environment's command with ``--id``
and ``--provision_endpoint`` (older runners also pass the logging, artifact and control
endpoints, which the provision info overrides when it has them).  Beam's
own command for that is the Go ``boot`` binary of its SDK container image, which is not
published on PyPI; this module does the part of its work that a machine with newsbeam already
installed needs:

1. ask the provision service (with the worker id as ``worker_id`` gRPC metadata) for the job's
   pipeline options, endpoints, runner capabilities and sibling worker ids;
2. start ``python -m apache_beam.runners.worker.sdk_worker_main`` once per worker id (its own
   and each sibling's), with the environment that module reads (``PIPELINE_OPTIONS``,
   ``*_API_SERVICE_DESCRIPTOR``, ``RUNNER_CAPABILITIES``, ``SEMI_PERSISTENT_DIRECTORY``,
   ``WORKER_ID``), in the interpreter running this module;
3. wait for them, passing SIGTERM/SIGINT on, and exit with the first failure's status.

Runners discard the command's output; with ``NEWSBEAM_WORKER_LOG_DIR`` set (``newsbeam flink up``
sets it to the cluster's log directory) it goes to ``sdk-worker-ID-PID.log`` there.  What the
harnesses log once running reaches the runner's logging service (the TaskManager's log).

Invariant: staged packages are never installed.  The harness runs the code installed in this
interpreter, so a job that staged packages to install (``--setup_file``,
``--requirements_file``, ``--extra_package``) is refused with a message rather than run with
other code than it asked for; the submission environment's dependency list Beam always stages is
only informative and is ignored.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

_LOGGER = logging.getLogger("newsbeam.worker_boot")
HARNESS_MODULE = "apache_beam.runners.worker.sdk_worker_main"
# Staged by every Python submission (a `pip freeze` of the submitting machine), for information.
INFORMATIONAL_ARTIFACTS = frozenset({"submission_environment_dependencies.txt"})
FILE_ARTIFACT_URN = "beam:artifact:type:file:v1"
STAGING_ROLE_URN = "beam:artifact:role:staging_to:v1"


class BootError(RuntimeError):
    """The harness cannot be started as this job asks; the message says why."""


@dataclass(frozen=True)
class Endpoints:
    """Where the harness talks to the runner (the command-line flags, overridden by provision info)."""

    logging: str
    control: str
    status: str | None = None


def descriptor(url: str) -> str:
    """An ``ApiServiceDescriptor`` in protobuf text format, as sdk_worker_main parses it."""
    return f"url: {json.dumps(url)}"


def harness_environment(
    base: Mapping[str, str],
    *,
    pipeline_options_json: str,
    endpoints: Endpoints,
    runner_capabilities: Sequence[str],
    semi_persistent_dir: str,
    worker_id: str,
    job_metadata: Mapping[str, str],
) -> dict[str, str]:
    """``base`` plus what ``sdk_worker_main`` reads from its environment, for one worker id."""
    env = dict(base)
    env.update(
        PIPELINE_OPTIONS=pipeline_options_json,
        SEMI_PERSISTENT_DIRECTORY=semi_persistent_dir,
        LOGGING_API_SERVICE_DESCRIPTOR=descriptor(endpoints.logging),
        CONTROL_API_SERVICE_DESCRIPTOR=descriptor(endpoints.control),
        RUNNER_CAPABILITIES=" ".join(runner_capabilities),
        WORKER_ID=worker_id,
    )
    if endpoints.status:
        env["STATUS_API_SERVICE_DESCRIPTOR"] = descriptor(endpoints.status)
    else:
        env.pop("STATUS_API_SERVICE_DESCRIPTOR", None)
    for key, name in (("job_name", "JOB_NAME"), ("job_id", "JOB_ID")):
        if key in job_metadata:
            env[name] = job_metadata[key]
    return env


def _integral(value: Any) -> Any:
    """JSON of a protobuf Struct has only floats; whole ones back to ints (``2``, not ``2.0``),
    as Beam's Go boot writes them, so that ``--parallelism=2`` parses as an int option."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def packages_to_install(artifact_names: Sequence[str]) -> list[str]:
    """The staged artifacts that Beam's container boot would install (all but the informative)."""
    return [name for name in artifact_names if os.path.basename(name) not in INFORMATIONAL_ARTIFACTS]


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sdk-worker",
        description="Start Python SDK harnesses for a Beam PROCESS environment (run by the runner).",
    )
    parser.add_argument("--id", required=True, help="worker id given by the runner")
    parser.add_argument("--provision_endpoint", required=True)
    parser.add_argument("--logging_endpoint", default="")
    parser.add_argument("--artifact_endpoint", default="")
    parser.add_argument("--control_endpoint", default="")
    parser.add_argument(
        "--semi_persist_dir",
        default=os.environ.get("TMPDIR", "/tmp"),
        help="scratch directory handed to the harness (default: $TMPDIR or /tmp)",
    )
    return parser.parse_args(argv)


def _provision_info(endpoint: str, worker_id: str) -> Any:
    import grpc  # type: ignore[import-untyped]
    from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc

    with grpc.insecure_channel(endpoint) as channel:
        grpc.channel_ready_future(channel).result(timeout=60)
        stub = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
        response = stub.GetProvisionInfo(
            beam_provision_api_pb2.GetProvisionInfoRequest(),
            metadata=[("worker_id", worker_id)],
            timeout=60,
        )
    return response.info


def _artifact_names(info: Any) -> list[str]:
    """Each staged artifact's name as the submitter staged it (else its path or type)."""
    from apache_beam.portability.api import beam_runner_api_pb2

    names = []
    for artifact in info.dependencies:
        if artifact.role_urn == STAGING_ROLE_URN:
            payload = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(artifact.role_payload)
            names.append(payload.staged_name)
        elif artifact.type_urn == FILE_ARTIFACT_URN:
            path = beam_runner_api_pb2.ArtifactFilePayload.FromString(artifact.type_payload).path
            names.append(os.path.basename(path))
        else:
            names.append(artifact.type_urn)
    return names


def _run_harnesses(environments: Sequence[dict[str, str]]) -> int:
    """Start one harness per environment, forward termination signals, return the worst status."""
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    for env in environments:
        _LOGGER.info("starting SDK harness %s: %s -m %s", env["WORKER_ID"], sys.executable, HARNESS_MODULE)
        children.append(subprocess.Popen([sys.executable, "-m", HARNESS_MODULE], env=env))
    statuses = [child.wait() for child in children]
    failed = [status for status in statuses if status != 0]
    return failed[0] if failed else 0


def _log_to(directory: str, worker_id: str) -> None:
    """Send this process's and its harnesses' stdout/stderr to ``directory/sdk-worker-ID-PID.log``.

    Runners discard a PROCESS environment's output (Beam's ProcessManager writes it to
    /dev/null), so without this a harness that dies before it reaches the runner's logging
    service leaves no trace.
    """
    os.makedirs(directory, exist_ok=True)
    safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in worker_id)
    # Worker ids are per TaskManager (both TaskManagers' first worker is "1-1"): add the pid.
    name = f"sdk-worker-{safe_id}-{os.getpid()}.log"
    fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        os.dup2(fd, stream.fileno())
    os.close(fd)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if os.environ.get("NEWSBEAM_WORKER_LOG_DIR"):
        _log_to(os.environ["NEWSBEAM_WORKER_LOG_DIR"], args.id)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s sdk-worker: %(message)s")
    from google.protobuf import json_format  # type: ignore[import-untyped]

    info = _provision_info(args.provision_endpoint, args.id)
    to_install = packages_to_install(_artifact_names(info))
    if to_install:
        raise BootError(
            f"the job staged packages to install ({', '.join(to_install)}), but this launcher "
            f"runs the code installed in {sys.executable}: install them there (newsbeam needs no "
            "--setup_file on a machine where it is installed), or use a DOCKER environment"
        )
    endpoints = Endpoints(
        logging=info.logging_endpoint.url or args.logging_endpoint,
        control=info.control_endpoint.url or args.control_endpoint,
        status=info.status_endpoint.url or None,
    )
    if not endpoints.logging or not endpoints.control:
        raise BootError(
            "neither the runner's flags nor its provision info give the logging/control endpoints"
        )
    options_json = json.dumps(_integral(json_format.MessageToDict(info.pipeline_options)))
    worker_ids = [args.id, *info.sibling_worker_ids]
    environments = [
        harness_environment(
            os.environ,
            pipeline_options_json=options_json,
            endpoints=endpoints,
            runner_capabilities=list(info.runner_capabilities),
            semi_persistent_dir=args.semi_persist_dir,
            worker_id=worker_id,
            job_metadata=dict(info.metadata),
        )
        for worker_id in worker_ids
    ]
    return _run_harnesses(environments)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BootError as err:
        _LOGGER.error("%s", err)
        sys.exit(2)
