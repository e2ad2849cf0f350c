"""Live progress of a running job: counters read from the runner while it works.

On a terminal the line updates in place (``rich``); otherwise a plain log line is printed every
``interval_s``.  Runners that hand back a running job (Prism, the portable job service, Flink,
Dataflow) are asked for their metrics on each tick; the local FnApiRunner runs the whole job
inside ``run()``, so with it progress is the summary at the end.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from apache_beam.runners.runner import PipelineResult

from pipelines.summary import Summary, counters_of

Counters = Mapping[str, int]


def progress_line(counters: Counters, elapsed_s: float) -> str:
    """One line: what the job has done so far and its article rate."""
    g = counters.get
    written = g("rows_written_articles", 0)
    failures = Summary(counters).failures
    rate = g("extracted", 0) / elapsed_s if elapsed_s > 0 else 0.0
    return (
        f"{elapsed_s:6.0f} s  feeds polled {g('feeds_polled', 0)}  entries {g('entries', 0)}  "
        f"fetched {g('fetched', 0)}  written {written}  failures {failures}  {rate:.1f} articles/s"
    )


def live_counters(result: PipelineResult) -> Callable[[], Counters] | None:
    """A function reading the job's counters now, for runners that can say while running."""
    service = getattr(result, "_job_service", None)
    job_id = getattr(result, "_job_id", None)
    if service is None or job_id is None:
        return None
    from apache_beam.portability.api import beam_job_api_pb2
    from apache_beam.runners.portability.portable_runner import PortableMetrics

    def read() -> Counters:
        response = service.GetJobMetrics(beam_job_api_pb2.GetJobMetricsRequest(job_id=job_id))
        return counters_of(PortableMetrics(response))

    return read


class ProgressReporter:
    """Reports ``read()`` every ``interval_s`` on a thread until ``stop()``."""

    def __init__(
        self,
        read: Callable[[], Counters],
        stream: TextIO | None = None,
        interval_s: float | None = None,
    ) -> None:
        self._read = read
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._interval_s = interval_s if interval_s is not None else (1.0 if self._tty else 30.0)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="newsbeam-progress", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> ProgressReporter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        live: Any = None
        if self._tty:
            from rich.console import Console
            from rich.live import Live

            live = Live("starting…", console=Console(file=self._stream), transient=True)
            live.start()
        try:
            while not self._stopped.wait(self._interval_s):
                try:
                    line = progress_line(self._read(), time.monotonic() - self._started)
                except Exception:  # a runner busy or shutting down: try again next tick
                    continue
                if live is not None:
                    live.update(line)
                else:
                    print(f"newsbeam progress: {line}", file=self._stream, flush=True)
        finally:
            if live is not None:
                live.stop()
