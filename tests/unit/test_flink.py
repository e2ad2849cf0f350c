"""pipelines/flink.py without a cluster: run arguments, the job-server jar, the rendered config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipelines import flink
from pipelines.flink import ClusterSpec, FlinkError, flink_run_args, parse_resource_params, render_config


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty job-server cache, and no NEWSBEAM_FLINK_JOB_SERVER_JAR."""
    monkeypatch.setattr(flink, "FLINK_CACHE", tmp_path)
    monkeypatch.delenv("NEWSBEAM_FLINK_JOB_SERVER_JAR", raising=False)
    return tmp_path


def _jar(cache: Path, version: str) -> Path:
    jar = cache / f"beam-runners-flink-1.19-job-server-{version}.jar"
    jar.write_bytes(b"PK")
    return jar


def test_the_jar_for_the_sdk_version_comes_first_then_the_newest_build(cache: Path) -> None:
    assert flink.find_job_server_jar("2.75.0") is None
    _jar(cache, "2.62.0")
    built = _jar(cache, "2.70.0")
    assert flink.find_job_server_jar("2.75.0") == built
    published = _jar(cache, "2.75.0")
    assert flink.find_job_server_jar("2.75.0") == published


def test_the_environment_names_a_jar(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _jar(cache, "2.75.0")
    monkeypatch.setenv("NEWSBEAM_FLINK_JOB_SERVER_JAR", "/elsewhere/job-server.jar")
    assert flink.find_job_server_jar("2.75.0") == Path("/elsewhere/job-server.jar")


def test_other_runners_are_left_alone(cache: Path) -> None:
    for args in ([], ["--runner=PrismRunner"], ["--runner=DataflowRunner", "--project=p"]):
        assert flink_run_args(args) == args


def test_a_local_cluster_gets_the_jar_the_version_and_a_process_environment(cache: Path) -> None:
    jar = _jar(cache, "2.70.0")
    args = flink_run_args(["--runner=FlinkRunner", "--flink_master=127.0.0.1:8081", "--parallelism=2"])
    assert args[:3] == ["--runner=FlinkRunner", "--flink_master=127.0.0.1:8081", "--parallelism=2"]
    assert f"--flink_job_server_jar={jar}" in args
    assert "--flink_version=1.19" in args
    assert "--environment_type=PROCESS" in args
    config = json.loads(next(a for a in args if a.startswith("--environment_config=")).split("=", 1)[1])
    assert config["command"] == str(flink.SDK_WORKER)
    assert Path(config["env"]["NEWSBEAM_WORKER_PYTHON"]).exists()
    assert flink.SDK_WORKER.is_file()


@pytest.mark.parametrize(
    "master",
    ["[local]", "[auto]", "flink-jobmanager:8081", "http://10.0.0.5:8081", "https://flink.example.org"],
)
def test_embedded_and_remote_clusters_keep_beams_default_environment(cache: Path, master: str) -> None:
    _jar(cache, "2.70.0")
    args = flink_run_args(["--runner=FlinkRunner", f"--flink_master={master}"])
    assert not any(a.startswith("--environment") for a in args)


def test_what_the_user_gave_is_kept(cache: Path) -> None:
    given = [
        "--runner=FlinkRunner",
        "--flink_master=localhost:8081",
        "--flink_job_server_jar=/my/jar.jar",
        "--flink_version=1.19",
        "--environment_type=DOCKER",
        "--environment_config=me/newsbeam:1",
        "--job_server_timeout=600",
    ]
    assert flink_run_args(given) == given


def test_no_jar_is_an_error_that_says_what_to_run(cache: Path) -> None:
    with pytest.raises(FlinkError, match="make flink"):
        flink_run_args(["--runner=FlinkRunner", "--flink_master=[local]"])


def test_the_rendered_config_binds_to_loopback_on_the_given_ports(tmp_path: Path) -> None:
    spec = ClusterSpec(task_managers=3, slots=2, rest_port=18081, rpc_port=16123, taskmanager_memory="1g")
    template = (flink.DEPLOY / "config.yaml").read_text()
    config = yaml.safe_load(render_config(spec, tmp_path / "tmp dir", template))
    assert config["rest"] == {"address": "127.0.0.1", "bind-address": "127.0.0.1", "port": 18081}
    assert config["jobmanager"]["rpc"] == {"address": "127.0.0.1", "port": 16123}
    assert config["jobmanager"]["bind-host"] == config["taskmanager"]["bind-host"] == "127.0.0.1"
    assert config["taskmanager"]["numberOfTaskSlots"] == 2
    assert config["taskmanager"]["memory"]["process"]["size"] == "1g"
    assert config["io"]["tmp"]["dirs"] == str(tmp_path / "tmp dir")
    assert spec.parallelism == 6


@pytest.mark.parametrize(
    "kwargs",
    [{"task_managers": 0}, {"slots": 0}, {"taskmanager_memory": "2 GB"}, {"jobmanager_memory": "512"}],
)
def test_impossible_clusters_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"at least one TaskManager|memory sizes"):
        ClusterSpec(**kwargs)  # type: ignore[arg-type]


def test_resource_params_are_the_last_two_result_lines() -> None:
    output = "\n".join(
        [
            "INFO  [] - Final TaskExecutor Memory configuration:",
            "BASH_JAVA_UTILS_EXEC_RESULT:-Xmx301989882 -Xms301989882 -XX:MaxMetaspaceSize=268435456",
            "BASH_JAVA_UTILS_EXEC_RESULT:-D taskmanager.cpu.cores=1.0 -D taskmanager.numberOfTaskSlots=1",
        ]
    )
    jvm, dynamic = parse_resource_params(output)
    assert jvm == ["-Xmx301989882", "-Xms301989882", "-XX:MaxMetaspaceSize=268435456"]
    assert dynamic == ["-D", "taskmanager.cpu.cores=1.0", "-D", "taskmanager.numberOfTaskSlots=1"]
    with pytest.raises(FlinkError, match="no memory settings"):
        parse_resource_params("ERROR something went wrong")


def test_a_state_file_of_a_cluster_that_is_gone_is_nothing_to_stop(tmp_path: Path) -> None:
    assert flink.stop_cluster(tmp_path) is None
    (tmp_path / "conf").mkdir()
    gone = flink.Cluster(str(tmp_path), 8081, 6123, 2, 1, pids=(2**22 + 7,))
    (tmp_path / flink.STATE_FILE).write_text(json.dumps({**gone.__dict__, "pids": list(gone.pids)}))
    assert flink.read_cluster(tmp_path) == gone
    assert flink.stop_cluster(tmp_path, grace_s=0) == gone
    assert not (tmp_path / flink.STATE_FILE).exists()
