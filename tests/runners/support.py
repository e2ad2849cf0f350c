"""Helpers for the runner tests: run ``newsbeam run`` in a subprocess, read what it wrote.

Each run is a separate ``python -m pipelines.cli run ...`` process, as a user would start it:
Beam's global state, the runner's subprocesses and the NER model's memory go away with it, and a
hung runner is stopped by the timeout instead of hanging pytest.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam
import duckdb

from pipelines.query import connect

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "local.yaml"
MANIFEST: dict[str, Any] = json.loads((REPO / "samples" / "site" / "manifest.json").read_text("utf-8"))
BEAM_VERSION: str = apache_beam.__version__
FAILURE_OF = {
    "http_404": ("fetch", "http_404"),
    "robots_disallowed": ("fetch", "robots_disallowed"),
    "not_an_article": ("extract", "not_an_article"),
}
ACCOUNTED = "every entry is an article, a duplicate or a failure"
# The pipeline's stages (labels of pipelines/ingest.py), in order: every job must run them all.
STAGES = (
    "Poll feeds",
    "Drop seen URLs",
    "Fetch pages",
    "Extract articles",
    "Drop seen canonical URLs",
    "Identify language",
    "Tag entities",
    "Mark near-duplicates",
    "Assign stories",
    "Write Parquet",
)


@dataclass(frozen=True)
class Run:
    output: Path
    summary: str  # stdout: the run summary
    log: str  # stderr: Beam's and the runner's logging
    seconds: float
    returncode: int = 0

    def db(self) -> duckdb.DuckDBPyConnection:
        return connect(self.output)

    def count(self, label: str) -> int:
        match = re.search(rf"^\s+{label}\s+(\d+)", self.summary, re.MULTILINE)
        assert match, f"{label!r} missing from the run summary:\n{self.summary}"
        return int(match.group(1))


def newsbeam_run(
    args: list[str],
    output: Path,
    *,
    timeout_s: float = 420,
    env: dict[str, str] | None = None,
    module: str = "pipelines.cli",
    command: str = "run",
    check: bool = True,
    while_running: Callable[[], None] | None = None,
) -> Run:
    """``python -m MODULE COMMAND ARGS --output OUTPUT`` in a subprocess (``newsbeam run`` by
    default); fails the test with its log if it exits non-zero (unless ``check`` is false).

    ``while_running`` is called about twice a second until the process ends (to watch the
    output of a streaming run as it is written).
    """
    command_line = [
        sys.executable,
        "-m",
        module,
        *([command] if command else []),
        *args,
        "--output",
        str(output),
    ]
    started = time.monotonic()
    # Its own session, so that a timeout also stops what it started (Prism, SDK workers): killing
    # only the Python process skips the atexit hooks that stop them.
    process = subprocess.Popen(
        command_line,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = started + timeout_s
    try:
        while True:
            try:
                stdout, stderr = process.communicate(timeout=0.5 if while_running else timeout_s)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise
                if while_running is not None:
                    while_running()
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        raise AssertionError(
            f"{module} did not finish in {timeout_s:.0f} s: {' '.join(command_line)}\n{_tail(stderr)}"
        ) from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # leftovers of a run that did finish
    seconds = time.monotonic() - started
    if check:
        assert process.returncode == 0, (
            f"{module} exited {process.returncode}: {' '.join(command_line)}\n{_tail(stderr)}"
        )
    return Run(output=output, summary=stdout, log=stderr, seconds=seconds, returncode=process.returncode)


def once_args(base_url: str, *beam_args: str) -> list[str]:
    return ["--config", str(CONFIG), "--once", "--feeds-base-url", base_url, *beam_args]


def expected_articles(base_url: str) -> set[str]:
    """Canonical URLs of the items the corpus manifest says become articles."""
    return {
        item["canonical"].replace(MANIFEST["base_url_placeholder"], base_url)
        for item in MANIFEST["feed_items"]
        if item["expect"] == "article"
    }


def expected_failures() -> Counter[tuple[str, str]]:
    """(stage, error_type) of every failure row the corpus manifest plants."""
    want = Counter(
        FAILURE_OF[item["expect"]] for item in MANIFEST["feed_items"] if item["expect"] in FAILURE_OF
    )
    want[("feed", "malformed_feed")] += len(MANIFEST["malformed_feeds"])
    return want


def article_urls(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Canonical URLs of the rows written, with repeats (a runner retry must not duplicate)."""
    return [url for (url,) in db.sql("SELECT canonical_url FROM articles").fetchall()]


def decisions(db: duckdb.DuckDBPyConnection) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Per article: its canonical URL, ``duplicate_of`` and ``story_id``, as written (the direct
    links, which the ``articles`` view follows to their roots).  Equal on every runner for the
    same input: bounded runs see every entry at the one poll tick, and ties go by article id."""
    rows = db.sql("SELECT article_id, canonical_url, duplicate_of, story_id FROM article_files").fetchall()
    found = {article_id: tuple(rest) for article_id, *rest in rows}
    assert len(found) == len(rows), "an article was written twice"
    return found  # type: ignore[return-value]


def failures(db: duckdb.DuckDBPyConnection) -> Counter[tuple[str, str]]:
    return Counter(db.sql("SELECT stage, error_type FROM failures").fetchall())


def assert_bounded_run_matches_manifest(run: Run, base_url: str) -> None:
    """What tests/e2e/test_sample_site.py checks on the default runner, on another runner."""
    db = run.db()
    urls = article_urls(db)
    assert len(urls) == len(set(urls)), "an article was written twice"
    want = expected_articles(base_url)
    assert set(urls) == want, (
        f"missing {sorted(want - set(urls))[:5]}, unexpected {sorted(set(urls) - want)[:5]}"
    )
    assert failures(db) == expected_failures()
    # The summary comes from the runner's metrics; it must agree with the rows it wrote.
    assert run.count("rows written") == len(urls)
    assert ACCOUNTED in run.summary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until something accepts connections on localhost:PORT (or the process died)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited {process.returncode}:\n{_tail(log.read_text())}")
        try:
            with socket.create_connection(("localhost", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{process.args!r}: nothing listening on port {port} after {timeout_s} s")


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])
