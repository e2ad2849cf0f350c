"""``newsbeam flink up|down|status``: a local Flink session cluster, and what a Flink run needs.

The pieces come from ``scripts/fetch-runners`` (``make flink``), cached under
``~/.cache/newsbeam/flink/`` (``$XDG_CACHE_HOME`` honoured):

- ``flink-1.19.0/``: the Flink distribution's ``lib/*.jar`` and ``bin/bash-java-utils.jar``,
  unpacked from the ``apache-flink-libraries`` sdist on PyPI (Flink's own start scripts are not
  in it, so this module starts the processes);
- ``beam-runners-flink-1.19-job-server-<beam>.jar``: Beam's Flink job server, the published jar
  for the installed Beam version where Maven serves it, else the one built from
  ``deploy/flink/pom.xml`` over the runner artifacts Maven does serve.

``up`` starts one JobManager (with the web UI) and N TaskManagers on 127.0.0.1, each in its own
process group, and records their process ids in ``CLUSTER_DIR/cluster.json``; ``down`` stops
exactly those process groups (a TaskManager's group holds the SDK harnesses it started), after
checking that each id still runs this cluster's configuration.  Python code runs in a ``PROCESS``
environment whose command is ``deploy/flink/sdk-worker`` (``pipelines/worker_boot.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines.cli import CACHE

FLINK_VERSION = "1.19.0"
FLINK_MINOR = "1.19"
REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "flink"
SDK_WORKER = DEPLOY / "sdk-worker"
FLINK_CACHE = CACHE / "flink"
DIST = FLINK_CACHE / f"flink-{FLINK_VERSION}"
DEFAULT_CLUSTER_DIR = FLINK_CACHE / "cluster"
STATE_FILE = "cluster.json"
JAR_NAME = re.compile(r"beam-runners-flink-(\d+\.\d+)-job-server-(\d+\.\d+\.\d+)\.jar$")
JOBMANAGER_MAIN = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
TASKMANAGER_MAIN = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
BASH_JAVA_UTILS = "org.apache.flink.runtime.util.bash.BashJavaUtils"
RESULT_PREFIX = "BASH_JAVA_UTILS_EXEC_RESULT:"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
MAGIC_MASTERS = ("[local]", "[auto]")
# The cluster processes this Python process started (tests and benchmarks start and stop one in
# the same process): stopping them waits on their Popen, so none is left a zombie.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


class FlinkError(RuntimeError):
    """A cluster that cannot be started, found or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class ClusterSpec:
    """What ``newsbeam flink up`` starts.  The ports are the web UI/REST and JobManager RPC ones."""

    task_managers: int = 2
    slots: int = 1
    rest_port: int = 8081
    rpc_port: int = 6123
    taskmanager_memory: str = "2048m"
    jobmanager_memory: str = "1024m"

    def __post_init__(self) -> None:
        if self.task_managers < 1 or self.slots < 1:
            raise ValueError("a cluster needs at least one TaskManager with one slot")
        for memory in (self.taskmanager_memory, self.jobmanager_memory):
            if not re.fullmatch(r"\d+[mg]", memory):
                raise ValueError(f"memory sizes look like 2048m or 2g, got {memory!r}")

    @property
    def parallelism(self) -> int:
        return self.task_managers * self.slots


@dataclass(frozen=True)
class Cluster:
    """A running local cluster, as recorded in its ``cluster.json``."""

    directory: str
    rest_port: int
    rpc_port: int
    task_managers: int
    slots: int
    pids: tuple[int, ...]  # the JobManager first, then the TaskManagers

    @property
    def web_ui(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def master(self) -> str:
        return f"127.0.0.1:{self.rest_port}"


# --------------------------------------------------------------------------------------------
# What a FlinkRunner run needs


def find_job_server_jar(beam_version: str | None = None) -> Path | None:
    """The Flink 1.19 job-server jar: $NEWSBEAM_FLINK_JOB_SERVER_JAR, else the cached one.

    In the cache, the jar published for ``beam_version`` (the installed SDK's) comes first, then
    the newest other (built from deploy/flink/pom.xml for the runner version Maven serves).
    """
    configured = os.environ.get("NEWSBEAM_FLINK_JOB_SERVER_JAR")
    if configured:
        return Path(configured)
    if beam_version is None:
        from apache_beam.version import __version__ as beam_version
    exact = FLINK_CACHE / f"beam-runners-flink-{FLINK_MINOR}-job-server-{beam_version}.jar"
    if exact.is_file():
        return exact
    candidates = [
        (_version_key(match.group(2)), path)
        for path in FLINK_CACHE.glob(f"beam-runners-flink-{FLINK_MINOR}-job-server-*.jar")
        if (match := JAR_NAME.search(path.name))
    ]
    return max(candidates)[1] if candidates else None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def process_environment_config(python: str | None = None) -> str:
    """``--environment_config`` of a PROCESS environment running this interpreter's newsbeam."""
    return json.dumps(
        {"command": str(SDK_WORKER), "env": {"NEWSBEAM_WORKER_PYTHON": python or sys.executable}}
    )


def _option(beam_args: Sequence[str], name: str) -> str | None:
    """The last ``--name=value`` (or ``--name value``) among ``beam_args``."""
    value = None
    for i, arg in enumerate(beam_args):
        if arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
        elif arg == f"--{name}" and i + 1 < len(beam_args):
            value = beam_args[i + 1]
    return value


def _is_local_master(master: str) -> bool:
    host = re.sub(r"^https?://", "", master.strip()).rsplit(":", 1)[0]
    return host in LOCAL_HOSTS


def flink_run_args(beam_args: Sequence[str]) -> list[str]:
    """``beam_args`` with what a FlinkRunner run on this machine needs and was not given.

    - ``--flink_job_server_jar``: the cached jar (Beam would otherwise try to download one for
      its newest Flink version); ``--flink_version`` from that jar's name;
    - for a cluster on 127.0.0.1 (``newsbeam flink up``): ``--environment_type=PROCESS`` with
      ``deploy/flink/sdk-worker`` and this interpreter (the embedded ``[local]`` cluster gets
      Beam's default, LOOPBACK; a remote one Beam's default, DOCKER).

    Other runners' arguments come back unchanged.  Raises FlinkError when no jar can be found.
    """
    args = list(beam_args)
    if _option(args, "runner") != "FlinkRunner":
        return args
    jar_arg = _option(args, "flink_job_server_jar")
    if jar_arg is None:
        jar = find_job_server_jar()
        if jar is None or not jar.is_file():
            raise FlinkError(
                f"no Flink {FLINK_MINOR} job-server jar"
                + (f" at {jar}" if jar else f" in {FLINK_CACHE}")
                + ": run `make flink` (scripts/fetch-runners) or pass --flink_job_server_jar=JAR"
            )
        args.append(f"--flink_job_server_jar={jar}")
        jar_arg = str(jar)
    if _option(args, "flink_version") is None:
        match = JAR_NAME.search(Path(jar_arg).name)
        args.append(f"--flink_version={match.group(1) if match else FLINK_MINOR}")
    master = _option(args, "flink_master") or "[auto]"
    if _option(args, "environment_type") is None and master not in MAGIC_MASTERS and _is_local_master(master):
        args += ["--environment_type=PROCESS", f"--environment_config={process_environment_config()}"]
    return args


# --------------------------------------------------------------------------------------------
# The local session cluster


def render_config(spec: ClusterSpec, tmp_dir: Path, template: str) -> str:
    """The cluster's ``config.yaml`` from ``deploy/flink/config.yaml``'s ``${...}`` template."""
    return string.Template(template).substitute(
        rpc_port=spec.rpc_port,
        rest_port=spec.rest_port,
        slots=spec.slots,
        taskmanager_memory=spec.taskmanager_memory,
        jobmanager_memory=spec.jobmanager_memory,
        tmp_dir=json.dumps(str(tmp_dir)),
    )


def parse_resource_params(output: str) -> tuple[list[str], list[str]]:
    """BashJavaUtils' answer: (JVM options, ``-D key=value`` dynamic properties) as arguments."""
    results = [line[len(RESULT_PREFIX) :] for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
    if len(results) < 2:
        raise FlinkError(f"Flink's BashJavaUtils gave no memory settings:\n{_tail(output)}")
    return results[-2].split(), results[-1].split()


def _classpath(dist: Path) -> str:
    return os.pathsep.join(str(jar) for jar in sorted((dist / "lib").glob("*.jar")))


def _check_dist(dist: Path) -> None:
    if shutil.which("java") is None:
        raise FlinkError("java is not installed (Flink 1.19 needs Java 11 or 17)")
    if not (dist / "lib" / f"flink-dist-{FLINK_VERSION}.jar").is_file():
        raise FlinkError(f"no Flink {FLINK_VERSION} distribution in {dist}: run `make flink` first")


def _resource_params(kind: str, dist: Path, conf: Path) -> tuple[list[str], list[str]]:
    classpath = os.pathsep.join([_classpath(dist), str(dist / "bin" / "bash-java-utils.jar")])
    command = [
        "java",
        "-cp",
        classpath,
        BASH_JAVA_UTILS,
        f"GET_{kind}_RESOURCE_PARAMS",
        "--configDir",
        str(conf),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise FlinkError(f"{' '.join(command[:4])} ... failed:\n{_tail(done.stdout + done.stderr)}")
    return parse_resource_params(done.stdout)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _overview(rest_port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/overview", timeout=2) as response:
            overview: dict[str, object] = json.load(response)
            return overview
    except (OSError, ValueError, urllib.error.URLError):
        return None


def rest(cluster: Cluster, path: str) -> Any:
    """GET ``path`` of the cluster's REST API (``/jobs/overview``, ``/jobs/JID``, ...), as JSON."""
    with urllib.request.urlopen(f"{cluster.web_ui}{path}", timeout=10) as response:
        return json.load(response)


def latest_job(cluster: Cluster) -> dict[str, Any]:
    """The most recently started job on the cluster, with its vertices (REST ``/jobs/JID``)."""
    jobs = rest(cluster, "/jobs/overview")["jobs"]
    if not jobs:
        raise FlinkError(f"no job has run on {cluster.web_ui}")
    job = max(jobs, key=lambda j: j["start-time"])
    detail: dict[str, Any] = rest(cluster, f"/jobs/{job['jid']}")
    return detail


def _owned(pid: int, conf: Path) -> bool:
    """Whether ``pid`` still runs with this cluster's configuration (it was not reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux): trust the recorded id if it is alive
        return _alive(pid)
    return str(conf).encode() in cmdline


def _alive(pid: int, *, group: bool = False) -> bool:
    """Whether process ``pid`` (or any process of group ``pid``) still exists."""
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_cluster(directory: Path) -> Cluster | None:
    """The cluster recorded in ``directory`` (running or not), or None."""
    try:
        state = json.loads((directory / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    return Cluster(**{**state, "pids": tuple(state["pids"])})


def start_cluster(
    spec: ClusterSpec, directory: Path = DEFAULT_CLUSTER_DIR, *, dist: Path = DIST, timeout_s: float = 120
) -> Cluster:
    """Start a JobManager and ``spec.task_managers`` TaskManagers; return once all registered.

    On any failure, what was started is stopped again and FlinkError says why (with log tails).
    """
    _check_dist(dist)
    directory = directory.resolve()
    running = read_cluster(directory)
    if running is not None and any(_owned(pid, directory / "conf") for pid in running.pids):
        raise FlinkError(
            f"a cluster from {directory} is already running ({running.web_ui}): "
            f"`newsbeam flink down --dir {directory}` first"
        )
    for name, port in (("web UI/REST", spec.rest_port), ("JobManager RPC", spec.rpc_port)):
        if not _port_free(port):
            raise FlinkError(
                f"port {port} ({name}) is in use on 127.0.0.1: choose another with --{_flag(name)}"
            )
    conf, log, tmp = directory / "conf", directory / "log", directory / "tmp"
    for path in (conf, log, tmp):
        path.mkdir(parents=True, exist_ok=True)
    (conf / "config.yaml").write_text(render_config(spec, tmp, (DEPLOY / "config.yaml").read_text()))
    shutil.copyfile(DEPLOY / "log4j.properties", conf / "log4j.properties")
    jm_jvm, jm_dynamic = _resource_params("JM", dist, conf)
    tm_jvm, tm_dynamic = _resource_params("TM", dist, conf)

    env = {
        **os.environ,
        # read by deploy/flink/sdk-worker: the Python with newsbeam, where harness output goes
        "NEWSBEAM_WORKER_PYTHON": sys.executable,
        "NEWSBEAM_WORKER_LOG_DIR": str(log),
    }
    pids: list[int] = []

    def launch(name: str, jvm: list[str], main: str, dynamic: list[str]) -> subprocess.Popen[bytes]:
        command = [
            "java",
            *jvm,
            f"-Dlog.file={log / (name + '.log')}",
            f"-Dlog4j.configurationFile=file:{conf / 'log4j.properties'}",
            "-cp",
            _classpath(dist),
            main,
            "--configDir",
            str(conf),
            *dynamic,
        ]
        with (log / f"{name}.out").open("ab") as out:
            process = subprocess.Popen(
                command,
                cwd=directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `down` stops it and its children
            )
        pids.append(process.pid)
        _STARTED[process.pid] = process
        return process

    cluster = Cluster(
        directory=str(directory),
        rest_port=spec.rest_port,
        rpc_port=spec.rpc_port,
        task_managers=spec.task_managers,
        slots=spec.slots,
        pids=(),
    )
    try:
        processes = [launch("jobmanager", jm_jvm, JOBMANAGER_MAIN, jm_dynamic)]
        processes += [
            launch(f"taskmanager-{i}", tm_jvm, TASKMANAGER_MAIN, tm_dynamic)
            for i in range(1, spec.task_managers + 1)
        ]
        cluster = Cluster(**{**asdict(cluster), "pids": tuple(pids)})
        _write_state(directory, cluster)
        _wait_until_ready(cluster, processes, log, timeout_s)
    except BaseException:
        _stop_pids(tuple(pids), conf, grace_s=5)
        (directory / STATE_FILE).unlink(missing_ok=True)
        raise
    return cluster


def _flag(name: str) -> str:
    return "port" if name.startswith("web") else "rpc-port"


def _write_state(directory: Path, cluster: Cluster) -> None:
    tmp = directory / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(cluster), indent=2) + "\n")
    tmp.replace(directory / STATE_FILE)


def _wait_until_ready(
    cluster: Cluster, processes: list[subprocess.Popen[bytes]], log: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    overview: dict[str, object] | None = None
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                name = "jobmanager" if process is processes[0] else f"taskmanager-{processes.index(process)}"
                raise FlinkError(
                    f"the {name} exited with status {process.returncode}:\n"
                    f"{_tail(_read(log / (name + '.out')) + _read(log / (name + '.log')))}"
                )
        overview = _overview(cluster.rest_port)
        if overview is not None and overview.get("taskmanagers") == cluster.task_managers:
            return
        time.sleep(0.5)
    raise FlinkError(
        f"the cluster was not ready after {timeout_s:.0f} s (REST overview: {overview}); logs in {log}"
    )


def stop_cluster(directory: Path = DEFAULT_CLUSTER_DIR, *, grace_s: float = 30) -> Cluster | None:
    """Stop the processes recorded in ``directory`` (and their process groups); None if none."""
    directory = directory.resolve()
    cluster = read_cluster(directory)
    if cluster is None:
        return None
    _stop_pids(cluster.pids, directory / "conf", grace_s=grace_s)
    (directory / STATE_FILE).unlink(missing_ok=True)
    return cluster


def _stop_pids(pids: Sequence[int], conf: Path, *, grace_s: float) -> None:
    """SIGTERM each recorded process group still ours, SIGKILL what is left after ``grace_s``."""
    groups = [pid for pid in pids if _owned(pid, conf)]
    # TaskManagers first, so that the JobManager does not reschedule their tasks meanwhile.
    for pgid in reversed(groups):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for pid in groups:  # reap our own children, or their zombies would count as alive
            if pid in _STARTED:
                _STARTED[pid].poll()
        if not any(_alive(pgid, group=True) for pgid in groups):
            break
        time.sleep(0.2)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    for pid in pids:
        process = _STARTED.pop(pid, None)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)


@contextlib.contextmanager
def local_cluster(spec: ClusterSpec, directory: Path, *, timeout_s: float = 120) -> Iterator[Cluster]:
    """A cluster for the duration of a ``with`` block (tests and benchmarks): always stopped."""
    cluster = start_cluster(spec, directory, timeout_s=timeout_s)
    try:
        yield cluster
    finally:
        stop_cluster(directory, grace_s=15)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# The command line


def submit_hint(cluster: Cluster) -> str:
    return (
        "newsbeam run --config config/local.yaml --runner=FlinkRunner "
        f"--flink_master={cluster.master} --parallelism={cluster.task_managers * cluster.slots}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbeam flink",
        description=f"A local Flink {FLINK_VERSION} session cluster on 127.0.0.1 (needs `make flink` once).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser(
        "up",
        help="start a JobManager (web UI) and TaskManagers",
        description="Start a JobManager with its web UI and N TaskManagers on 127.0.0.1, in the "
        "background; `newsbeam flink down` stops them. Python code runs in SDK harness processes "
        "the TaskManagers start (deploy/flink/sdk-worker), with this interpreter's newsbeam.",
    )
    defaults = ClusterSpec()
    up.add_argument(
        "--task-managers",
        type=int,
        default=defaults.task_managers,
        metavar="N",
        help=f"TaskManager processes (default: {defaults.task_managers})",
    )
    up.add_argument(
        "--slots",
        type=int,
        default=defaults.slots,
        metavar="N",
        help="task slots per TaskManager (default: 1)",
    )
    up.add_argument(
        "--port",
        type=int,
        default=defaults.rest_port,
        help=f"web UI and REST port (default: {defaults.rest_port})",
    )
    up.add_argument(
        "--rpc-port",
        type=int,
        default=defaults.rpc_port,
        help=f"JobManager RPC port (default: {defaults.rpc_port})",
    )
    up.add_argument(
        "--taskmanager-memory",
        default=defaults.taskmanager_memory,
        metavar="SIZE",
        help=f"process size of each TaskManager JVM (default: {defaults.taskmanager_memory})",
    )
    for action in (
        up,
        actions.add_parser("down", help="stop the cluster `up` started"),
        actions.add_parser("status", help="whether the cluster runs, its web UI and TaskManagers"),
    ):
        action.add_argument(
            "--dir",
            type=Path,
            default=DEFAULT_CLUSTER_DIR,
            help=f"the cluster's configuration, logs and process ids (default: {DEFAULT_CLUSTER_DIR})",
        )
    return parser


def _up(args: argparse.Namespace) -> int:
    spec = ClusterSpec(
        task_managers=args.task_managers,
        slots=args.slots,
        rest_port=args.port,
        rpc_port=args.rpc_port,
        taskmanager_memory=args.taskmanager_memory,
    )
    print(f"newsbeam flink: starting Flink {FLINK_VERSION}…", file=sys.stderr)
    cluster = start_cluster(spec, args.dir)
    print(
        f"Flink {FLINK_VERSION} session cluster: a JobManager and {cluster.task_managers} "
        f"TaskManager(s) of {cluster.slots} slot(s) on 127.0.0.1\n"
        f"  web UI    {cluster.web_ui}\n"
        f"  logs      {Path(cluster.directory) / 'log'}\n"
        f"  stop      newsbeam flink down{_dir_arg(args.dir)}\n"
        f"Submit to it:\n  {submit_hint(cluster)}"
    )
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = stop_cluster(args.dir)
    if stopped is None:
        print(f"newsbeam flink: no cluster recorded in {args.dir}")
    else:
        print(f"newsbeam flink: stopped the cluster at {stopped.web_ui} (processes {list(stopped.pids)})")
    return 0


def _status(args: argparse.Namespace) -> int:
    directory = args.dir.resolve()
    cluster = read_cluster(directory)
    if cluster is None:
        print(f"newsbeam flink: no cluster recorded in {args.dir}")
        return 1
    alive = [pid for pid in cluster.pids if _owned(pid, directory / "conf")]
    overview = _overview(cluster.rest_port)
    print(f"web UI {cluster.web_ui}: processes {alive} of {list(cluster.pids)} running")
    print(f"REST overview: {json.dumps(overview) if overview else 'not answering'}")
    return 0 if alive and overview else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"up": _up, "down": _down, "status": _status}[args.action](args)
    except (FlinkError, ValueError) as err:
        print(f"newsbeam flink: {err}", file=sys.stderr)
        return 1


def _dir_arg(directory: Path) -> str:
    return "" if directory == DEFAULT_CLUSTER_DIR else f" --dir {directory}"


if __name__ == "__main__":
    sys.exit(main())
