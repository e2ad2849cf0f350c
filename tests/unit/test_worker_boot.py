"""pipelines/worker_boot.py against a provision service on 127.0.0.1 (no runner, no harness)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent import futures
from typing import Any

import grpc
import pytest
from apache_beam.portability import common_urns
from apache_beam.portability.api import (
    beam_provision_api_pb2,
    beam_provision_api_pb2_grpc,
    beam_runner_api_pb2,
    endpoints_pb2,
)
from apache_beam.runners.worker import sdk_worker_main
from google.protobuf import struct_pb2, text_format

from pipelines import worker_boot
from pipelines.worker_boot import BootError, Endpoints, harness_environment, packages_to_install


def _staged(name: str) -> beam_runner_api_pb2.ArtifactInformation:
    return beam_runner_api_pb2.ArtifactInformation(
        type_urn=common_urns.artifact_types.FILE.urn,
        type_payload=beam_runner_api_pb2.ArtifactFilePayload(path=f"/staging/abc/{name}").SerializeToString(),
        role_urn=common_urns.artifact_roles.STAGING_TO.urn,
        role_payload=beam_runner_api_pb2.ArtifactStagingToRolePayload(staged_name=name).SerializeToString(),
    )


class _Provision(beam_provision_api_pb2_grpc.ProvisionServiceServicer):
    def __init__(self, info: beam_provision_api_pb2.ProvisionInfo) -> None:
        self.info = info
        self.worker_ids: list[str] = []

    def GetProvisionInfo(self, request: Any, context: Any) -> beam_provision_api_pb2.GetProvisionInfoResponse:
        self.worker_ids += [value for key, value in context.invocation_metadata() if key == "worker_id"]
        return beam_provision_api_pb2.GetProvisionInfoResponse(info=self.info)


@pytest.fixture
def provision() -> Iterator[tuple[_Provision, str]]:
    options = struct_pb2.Struct()
    options.update({"beam:option:job_name:v1": "newsbeam-test", "beam:option:parallelism:v1": 2})
    service = _Provision(
        beam_provision_api_pb2.ProvisionInfo(
            pipeline_options=options,
            logging_endpoint=endpoints_pb2.ApiServiceDescriptor(url="localhost:1111"),
            control_endpoint=endpoints_pb2.ApiServiceDescriptor(url="localhost:2222"),
            runner_capabilities=["beam:protocol:control_response_elements_embedding:v1"],
            sibling_worker_ids=["1-1_sibling"],
            metadata={"job_id": "job-7"},
            dependencies=[_staged("submission_environment_dependencies.txt")],
        )
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    beam_provision_api_pb2_grpc.add_ProvisionServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield service, f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def test_one_harness_per_worker_id_with_what_sdk_worker_main_reads(
    provision: tuple[_Provision, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, endpoint = provision
    started: list[dict[str, str]] = []

    def run_harnesses(environments: Sequence[dict[str, str]]) -> int:
        started.extend(environments)
        return 0

    monkeypatch.setattr(worker_boot, "_run_harnesses", run_harnesses)
    monkeypatch.delenv("NEWSBEAM_WORKER_LOG_DIR", raising=False)
    assert (
        worker_boot.main(["--id=1-1", f"--provision_endpoint={endpoint}", "--semi_persist_dir=/scratch"]) == 0
    )
    assert service.worker_ids == ["1-1"]
    assert [env["WORKER_ID"] for env in started] == ["1-1", "1-1_sibling"]
    env = started[0]
    assert json.loads(env["PIPELINE_OPTIONS"])["beam:option:parallelism:v1"] == 2
    assert env["RUNNER_CAPABILITIES"] == "beam:protocol:control_response_elements_embedding:v1"
    assert env["SEMI_PERSISTENT_DIRECTORY"] == "/scratch"
    assert env["JOB_ID"] == "job-7"
    assert "STATUS_API_SERVICE_DESCRIPTOR" not in env
    # What sdk_worker_main does with them (short of connecting to the control service).
    no_logging = {key: value for key, value in env.items() if key != "LOGGING_API_SERVICE_DESCRIPTOR"}
    assert sdk_worker_main.create_harness(no_logging, dry_run=True) is None
    control = endpoints_pb2.ApiServiceDescriptor()
    text_format.Merge(env["CONTROL_API_SERVICE_DESCRIPTOR"], control)
    assert control.url == "localhost:2222"


def test_staged_packages_are_refused_not_silently_ignored(
    provision: tuple[_Provision, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, endpoint = provision
    service.info.dependencies.append(_staged("workflow.tar.gz"))
    monkeypatch.setattr(worker_boot, "_run_harnesses", lambda environments: pytest.fail("started"))
    with pytest.raises(BootError, match=r"workflow\.tar\.gz"):
        worker_boot.main(["--id=1-1", f"--provision_endpoint={endpoint}"])


def test_the_environment_replaces_what_the_parent_had() -> None:
    env = harness_environment(
        {"PATH": "/bin", "STATUS_API_SERVICE_DESCRIPTOR": "stale", "WORKER_ID": "old"},
        pipeline_options_json="{}",
        endpoints=Endpoints(logging="localhost:1", control='host:2"x', status=None),
        runner_capabilities=[],
        semi_persistent_dir="/tmp",
        worker_id="2-1",
        job_metadata={},
    )
    assert env["PATH"] == "/bin" and env["WORKER_ID"] == "2-1"
    assert "STATUS_API_SERVICE_DESCRIPTOR" not in env
    control = endpoints_pb2.ApiServiceDescriptor()
    text_format.Merge(env["CONTROL_API_SERVICE_DESCRIPTOR"], control)
    assert control.url == 'host:2"x'


def test_only_the_informative_artifact_needs_no_install() -> None:
    assert packages_to_install(["submission_environment_dependencies.txt"]) == []
    assert packages_to_install(["submission_environment_dependencies.txt", "requirements.txt", "x.whl"]) == [
        "requirements.txt",
        "x.whl",
    ]
