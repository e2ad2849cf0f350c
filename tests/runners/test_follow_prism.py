"""`newsbeam run --follow` on Prism against the replaying sample site, in a separate process.

Without --runner, --follow runs on Prism (the local FnApiRunner writes nothing before a run
ends, so it cannot follow); `make prism` builds the binary this test needs.

Articles released over time appear as Parquet files while the run goes on; a feed added to the
config mid-run is picked up without a restart; Ctrl-C (SIGINT) stops the run and leaves only
complete files, which DuckDB reads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.cli import find_prism
from pipelines.query import connect
from samples.server import Replay, SampleSite

pytestmark = [
    pytest.mark.runners,
    pytest.mark.skipif(find_prism() is None, reason="no Prism binary: run `make prism` first"),
]

CLI = (sys.executable, "-m", "pipelines.cli", "run")
FEED = "  - {{url: /feeds/{name}, publisher: {publisher}, language: en, poll_interval_s: 1}}\n"
HEAD = """
output: {output}
follow: true
http: {{timeout_s: 5, retries: 0, allow_private_addresses: true}}
fetch: {{min_host_delay_s: 0}}
polling: {{min_interval_s: 1, max_interval_s: 2}}
write: {{batch_size: 1000, max_buffering_s: 1}}
feeds:
"""


def _write_config(path: Path, output: Path, feeds: list[tuple[str, str]]) -> None:
    body = HEAD.format(output=output) + "".join(FEED.format(name=n, publisher=p) for n, p in feeds)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body)
    tmp.replace(path)  # the running job never reads a half-written file


def _publishers(output: Path) -> set[str]:
    if not any(output.glob("articles/date=*/*.parquet")):
        return set()
    return {p for (p,) in connect(output).sql("SELECT DISTINCT publisher FROM articles").fetchall()}


def _start(config: Path, base_url: str) -> subprocess.Popen[str]:
    """``newsbeam run`` following ``config`` (``follow: true``) in a child process."""
    return subprocess.Popen(
        [*CLI, "--config", str(config), "--feeds-base-url", base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for(condition: object, timeout_s: float, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early:\n{proc.communicate()[1][-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout_s} s")


def test_follow_writes_while_running_reloads_feeds_and_stops_on_sigint(tmp_path: Path) -> None:
    output, config = tmp_path / "out", tmp_path / "job.yaml"
    _write_config(config, output, [("daily-ledger.xml", "The Daily Ledger")])
    with SampleSite(replay=Replay(initial=1, every_s=1.0)) as site:
        proc = _start(config, site.base_url)
        try:
            # Files appear while the job runs (poll interval + writer buffering, plus start-up).
            _wait_for(lambda: "The Daily Ledger" in _publishers(output), 90, proc)
            first = connect(output).sql("SELECT count(*) FROM articles").fetchall()[0][0]
            _wait_for(
                lambda: connect(output).sql("SELECT count(*) FROM articles").fetchall()[0][0] > first,
                30,
                proc,
            )
            # A feed added to the config is polled without a restart.
            _write_config(
                config,
                output,
                [("daily-ledger.xml", "The Daily Ledger"), ("harbor-times.atom", "Harbor Times")],
            )
            _wait_for(lambda: "Harbor Times" in _publishers(output), 30, proc)
        finally:
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-3000:]
    assert "stopped; the complete files written so far" in stderr
    rows = connect(output).sql("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchall()[0]
    assert rows[0] == rows[1] > first  # every file complete and readable, no duplicate rows


def test_follow_gives_every_row_its_story(tmp_path: Path) -> None:
    """Near-duplicates and stories run on Prism too: every written row has its story."""
    output, config = tmp_path / "out", tmp_path / "job.yaml"
    feeds = [("daily-ledger.xml", "The Daily Ledger"), ("capital-bulletin-world.xml", "Capital Bulletin")]
    _write_config(config, output, feeds)
    with SampleSite(replay=Replay(initial=3, every_s=4.0)) as site:
        proc = _start(config, site.base_url)
        try:
            _wait_for(lambda: _count(output) >= 10, 240, proc)
        finally:
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-3000:]
    total, with_story = connect(output).sql("SELECT count(*), count(story_id) FROM articles").fetchall()[0]
    assert total == with_story >= 10


def _count(output: Path) -> int:
    if not any(output.glob("articles/date=*/*.parquet")):
        return 0
    return int(connect(output).sql("SELECT count(*) FROM articles").fetchall()[0][0])
