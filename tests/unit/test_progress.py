"""The live progress line and its reporter thread."""

from __future__ import annotations

import io
import time

from pipelines.progress import ProgressReporter, progress_line


def test_progress_line_names_each_stage_and_the_rate() -> None:
    counters = {
        "feeds_polled": 9,
        "entries": 167,
        "fetched": 163,
        "extracted": 120,
        "rows_written_articles": 100,
        "fetch_failures": 2,
        "feed_failures": 1,
    }
    line = progress_line(counters, 60.0)
    assert "feeds polled 9" in line and "entries 167" in line and "fetched 163" in line
    assert "written 100" in line and "failures 3" in line and "2.0 articles/s" in line


def test_reporter_prints_plain_lines_off_a_terminal_and_survives_read_errors() -> None:
    stream = io.StringIO()
    calls = []

    def read() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("runner busy")
        return {"entries": len(calls)}

    with ProgressReporter(read, stream=stream, interval_s=0.05):
        time.sleep(0.4)
    lines = stream.getvalue().splitlines()
    assert lines and all(line.startswith("newsbeam progress: ") for line in lines)
    assert len(calls) >= 3 and len(lines) == len(calls) - 1  # the failed read printed nothing
