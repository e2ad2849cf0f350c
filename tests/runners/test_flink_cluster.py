"""The pipeline on a real Flink 1.19 session cluster: a JobManager and two TaskManager processes.

The cluster is started like ``newsbeam flink up`` does (fixture ``flink_cluster``, free ports,
stopped at the end); jobs are submitted by ``newsbeam run --runner=FlinkRunner
--flink_master=127.0.0.1:PORT --parallelism=2``, which adds the job-server jar
(``make flink``) and a PROCESS environment: each TaskManager starts its own Python SDK harness
through ``deploy/flink/sdk-worker``.  Every stage runs as two parallel subtasks, one per
TaskManager, and keyed state is split between them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.flink import Cluster, latest_job, read_cluster, rest
from samples.server import Replay, SampleSite
from tests.runners.support import (
    ACCOUNTED,
    CONFIG,
    MANIFEST,
    STAGES,
    Run,
    article_urls,
    free_port,
    newsbeam_run,
)

pytestmark = pytest.mark.runners

PARALLELISM = 2
DURATION_S = 75  # of the streaming run; the job starts in about 30 s of it
# Columns that hold the moment a row was written, not what was computed.
WALL_CLOCK = {"failures": ("at",)}
# Which copy of an entry listed twice (the same URL in two feeds, or a page and its AMP copy with
# one canonical URL) is kept is decided by the URL-dedup steps on arrival, and arrivals from two
# parallel subtasks come in either order: the kept row of such an article may come from either
# copy. Its duplicate_of/story_id and every other row must still be identical, but for the
# story_score of such an article and of a row whose parent it is: the score reads both articles'
# times, and such an article's is its kept copy's published_at.
COPY_COLUMNS = (
    "url",
    "feed_url",
    "publisher",
    "first_seen_at",
    "published_at",
    "date",  # the UTC day of published_at
    "date_source",
    "title",
    "description",
    "text",
    "authors",
    "tags",
    "word_count",
    "content_hash",
    "entities",
    "story_score",  # the score reads the article's time: the kept copy's published_at
)


def flink_args(cluster: Cluster, *extra: str) -> list[str]:
    return [
        "--runner=FlinkRunner",
        f"--flink_master={cluster.master}",
        f"--parallelism={PARALLELISM}",
        *extra,
    ]


def assert_ran_on_both_task_managers(cluster: Cluster, job: dict[str, Any]) -> None:
    """Every parallel vertex ran PARALLELISM subtasks, spread over both TaskManagers."""
    hosts: set[str] = set()
    for vertex in job["vertices"]:
        if vertex["parallelism"] == 1:  # the single Impulse source
            continue
        assert vertex["parallelism"] == PARALLELISM, vertex["name"]
        tasks = rest(cluster, f"/jobs/{job['jid']}/vertices/{vertex['id']}/taskmanagers")
        hosts |= {tm["taskmanager-id"] for tm in tasks["taskmanagers"]}
    assert len(hosts) == cluster.task_managers, f"subtasks ran on {sorted(hosts)} only"


def _copied_articles(base_url: str) -> set[str]:
    """Canonical URLs of the articles the sample feeds list twice (see COPY_COLUMNS)."""
    return {
        item["canonical"].replace(MANIFEST["base_url_placeholder"], base_url)
        for item in MANIFEST["feed_items"]
        if item["expect"] in ("tracking_duplicate", "canonical_duplicate")
    }


def _table(run: Run, table: str) -> tuple[list[str], dict[Any, tuple[Any, ...]]]:
    db = run.db()
    columns = [name for (name, *_) in db.sql(f"DESCRIBE {table}").fetchall()]
    columns = [c for c in columns if c not in WALL_CLOCK.get(table, ())]
    rows = db.sql(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    if table == "articles":
        keyed = {row[0]: row for row in rows}
        assert len(keyed) == len(rows), "an article was written twice"
        return columns, keyed
    return columns, {index: row for index, row in enumerate(sorted(rows, key=repr))}


def output_differences(reference: Run, other: Run, copied: set[str]) -> list[str]:
    """Every difference between two outputs, row by row and column by column."""
    problems: list[str] = []
    for table in ("articles", "failures"):
        columns, want = _table(reference, table)
        _, got = _table(other, table)
        if set(want) != set(got):
            problems.append(
                f"{table}: rows only in the reference {sorted(set(want) - set(got))[:5]}, "
                f"only in the other {sorted(set(got) - set(want))[:5]}"
            )
        copied_ids = {
            key
            for key, row in want.items()
            if table == "articles" and row[columns.index("canonical_url")] in copied
        }
        # the direct parent (the view's story_id is the root)
        parent = dict(reference.db().sql("SELECT article_id, story_id FROM article_files").fetchall())
        for key in sorted(set(want) & set(got), key=repr):
            row = dict(zip(columns, got[key], strict=True))
            for column, expected in zip(columns, want[key], strict=True):
                if row[column] == expected:
                    continue
                if table == "articles" and row["canonical_url"] in copied and column in COPY_COLUMNS:
                    continue
                if table == "articles" and column == "story_score" and parent.get(key) in copied_ids:
                    continue
                problems.append(f"{table} {key}: {column} {row[column]!r} != {expected!r}")
    return problems


def test_bounded_run_on_the_cluster_equals_the_fnapirunner(
    flink_cluster: Cluster, sample_site: SampleSite, tmp_path: Path
) -> None:
    """The whole output (every column of every row, duplicate_of and story_id included) of a run
    on two TaskManagers equals the local FnApiRunner's, for the same entries seen at the same
    times (``tests/runners/entries_run.py``; a live poll would stamp other first-seen times).

    ``--streaming``: that is how Flink runs a ``newsbeam run --once`` (its feed poller is an
    unbounded source).
    """
    args = ["--base-url", sample_site.base_url]
    reference = newsbeam_run(args, tmp_path / "fnapi", module="tests.runners.entries_run", command="")
    run = newsbeam_run(
        [*args, *flink_args(flink_cluster, "--streaming")],
        tmp_path / "flink",
        module="tests.runners.entries_run",
        command="",
        timeout_s=600,
    )
    assert flink_cluster.master in run.log, "the job was not submitted to the cluster"
    assert_ran_on_both_task_managers(flink_cluster, latest_job(flink_cluster))
    assert ACCOUNTED in run.summary, run.summary
    rows = run.db().sql("SELECT count(*), count(duplicate_of), count(DISTINCT story_id) FROM articles")
    written, duplicates, stories = rows.fetchall()[0]
    assert written == run.count("rows written") > 0
    assert duplicates > 0 and stories < written, "no near-duplicate or shared story to compare"
    problems = output_differences(reference, run, _copied_articles(sample_site.base_url))
    assert not problems, f"{len(problems)} differences from the FnApiRunner:\n" + "\n".join(problems[:20])


def _stream_config(path: Path) -> Path:
    """config/local.yaml polling every 1-2 s and writing batches after at most 2 s."""
    text = CONFIG.read_text().replace("language: en}", "language: en, poll_interval_s: 1}")
    text = text.replace("max_buffering_s: 30", "max_buffering_s: 2")
    path.write_text(text + "\npolling: {min_interval_s: 1, max_interval_s: 2}\n")
    return path


@dataclass(frozen=True)
class StreamingRun:
    run: Run
    job: dict[str, Any]  # the Flink job, from the cluster's REST API
    feeds: int
    written_after: dict[str, float]  # table -> seconds from the start to its first file


@pytest.fixture(scope="module")
def streaming_run(flink_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> StreamingRun:
    """``--duration`` (the ``--follow`` path, bounded) over the replaying sample site, on the
    cluster, with the time each table's first file appeared."""
    tmp_path = tmp_path_factory.mktemp("streaming")
    output = tmp_path / "out"
    first_file: dict[str, float] = {}

    def watch() -> None:
        for table in ("articles", "failures"):
            if table not in first_file and any(output.glob(f"{table}/date=*/*.parquet")):
                first_file[table] = time.monotonic()

    with SampleSite(replay=Replay(initial=1, every_s=2.0)) as site:
        started = time.monotonic()
        run = newsbeam_run(
            [
                "--config",
                str(_stream_config(tmp_path / "stream.yaml")),
                "--duration",
                str(DURATION_S),
                "--feeds-base-url",
                site.base_url,
                *flink_args(flink_cluster, "--streaming"),
            ],
            output,
            timeout_s=420,
            while_running=watch,
        )
        feeds = len(site.feed_paths)
    return StreamingRun(
        run=run,
        job=latest_job(flink_cluster),
        feeds=feeds,
        written_after={table: at - started for table, at in first_file.items()},
    )


def test_streaming_run_on_the_cluster_runs_every_stage(
    flink_cluster: Cluster, streaming_run: StreamingRun
) -> None:
    run, job, feeds = streaming_run.run, streaming_run.job, streaming_run.feeds
    names = " ".join(vertex["name"] for vertex in job["vertices"])
    missing = [stage for stage in STAGES if stage not in names]
    assert not missing, f"stages missing from the Flink job: {missing}"
    assert_ran_on_both_task_managers(flink_cluster, job)
    assert run.count("feeds polled") > feeds, f"each feed should be polled more than once:\n{run.summary}"
    urls = article_urls(run.db())
    assert len(urls) == len(set(urls)), "an article was written twice"
    assert len(urls) > feeds, f"only {len(urls)} articles for {feeds} feeds:\n{run.summary}"
    assert run.count("rows written") == len(urls)
    assert ACCOUNTED in run.summary, run.summary
    with_story = run.db().sql("SELECT count(story_id) FROM articles").fetchall()[0][0]
    assert with_story == len(urls), "an article was written without its story"
    assert "failures" in streaming_run.written_after, "no failure file was written while the job ran"
    assert streaming_run.written_after["failures"] < DURATION_S, streaming_run.written_after


def test_streaming_run_on_the_cluster_writes_articles_while_it_runs(streaming_run: StreamingRun) -> None:
    """Articles land while the job runs (a feed's poll interval plus write.max_buffering_s), not
    only once the input ends: before the poller's --duration is over."""
    written_after = {table: round(seconds) for table, seconds in streaming_run.written_after.items()}
    assert "articles" in written_after, "no article file at all"
    assert written_after["articles"] < DURATION_S, (
        f"seconds from the start to the first file of each table: {written_after}; the input ended "
        f"after {DURATION_S} s and the run after {streaming_run.run.seconds:.0f} s"
    )


def _assertion_job(cluster: Cluster, expected: int) -> str:
    """A job on the cluster whose assert_that expects ``expected``; returns its error, or ''."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    from pipelines.cli import with_job_server_timeout
    from pipelines.flink import flink_run_args

    options = PipelineOptions(with_job_server_timeout(flink_run_args(flink_args(cluster, "--streaming"))))
    try:
        with beam.Pipeline(options=options) as pipeline:
            sums = (
                pipeline
                | "Numbers" >> beam.Create(range(10))
                | "Key" >> beam.Map(lambda n: (n % 2, n))
                | "Sum" >> beam.CombinePerKey(sum)
                | "Total" >> beam.Map(lambda kv: kv[1])
            )
            assert_that(sums, equal_to([20, expected]), label="Check sums")
    except Exception as err:  # the FlinkRunner raises what the failed job reported
        return str(err)
    return ""


def test_a_failing_assertion_fails_the_job(flink_cluster: Cluster) -> None:
    """assert_that inside a job on the cluster: a wrong expectation fails the run (so the tests
    above fail when their pipeline goes wrong), the right one passes."""
    assert _assertion_job(flink_cluster, 25) == ""
    error = _assertion_job(flink_cluster, 26)
    assert re.search(r"Failed assert|AssertionError|BeamAssertException", error), error
    assert "26" in error, error


def _running(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())  # empty for a zombie
    except FileNotFoundError:
        return False


def test_flink_up_and_down_start_and_stop_exactly_one_cluster(flink_cluster: Cluster, tmp_path: Path) -> None:
    """``newsbeam flink up`` starts a cluster (refusing a second one in its directory), ``status``
    sees it, ``down`` stops its processes and no others (the session's cluster keeps running)."""
    directory, port = tmp_path / "cluster", free_port()

    def flink(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pipelines.cli", "flink", *args, "--dir", str(directory)]
        return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)

    up_args = ("up", "--task-managers", "1", "--port", str(port), "--rpc-port", str(free_port()))
    up = flink(*up_args)
    assert up.returncode == 0, up.stderr
    assert f"http://127.0.0.1:{port}" in up.stdout and "newsbeam flink down" in up.stdout
    cluster = read_cluster(directory)
    assert cluster is not None and len(cluster.pids) == 2
    try:
        assert rest(cluster, "/overview")["taskmanagers"] == 1
        assert flink("status").returncode == 0
        again = flink(*up_args)
        assert again.returncode == 1 and "already running" in again.stderr, again.stderr
    finally:
        down = flink("down")
    assert down.returncode == 0, down.stderr
    assert not [pid for pid in cluster.pids if _running(pid)], "a cluster process survived `down`"
    assert flink("status").returncode == 1
    assert rest(flink_cluster, "/overview")["taskmanagers"] == flink_cluster.task_managers
