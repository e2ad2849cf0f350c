"""Article extractors to compare newsbeam with: one callable per extractor, one interface.

    from benchmarks.peers import available_peers, extract_batch
    for name, extract in available_peers().items():
        result = extract(html_bytes, url)          # PeerResult(text, title, published, seconds)
    results, seconds = extract_batch(name, [(html_bytes, url), ...])

Every peer takes ``(html: bytes | str, url: str)`` and returns a ``PeerResult``; ``seconds`` is
the time of the extraction call alone, measured where the extractor ran, so peers run in a
subprocess are timed without the pipe.  Peers raise ``PeerError`` when the extractor fails.

In-process (the project's ``.venv``): ``newsbeam`` (what the stage does with a page that came
without feed context, e.g. an ``--input-jsonl`` line with ``html``: ``extract_html`` with the
stage's defaults, then ``build_article``, whose refusal makes the page not ``written``; the
date is the article's ``published_at``), ``newsbeam-fast`` (``precision_pass=False``: one
trafilatura pass), ``trafilatura`` (2.3.1 defaults: comments appended, like
``trafilatura.extract``) and ``trafilatura-nocomments`` (``include_comments=False``).
``baseline_peer(ref)`` is ``newsbeam`` as ``transforms/extract.py`` was at a git revision.

In a worker process (``benchmarks/peers_worker.py`` run by ``.venv-peers/bin/python``, made by
``make bench-install``; override with ``NEWSBEAM_PEERS_PYTHON``): ``readability-lxml``,
``newspaper4k`` (``fetch_images=False``), ``goose3`` and ``news-please``.  They are not in
``.venv`` because their dependencies bring optional accelerators (cchardet, chardet, brotli,
zstd) that change how pinned packages there behave; see ``benchmarks/requirements-peers.txt``.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKER_SCRIPT = Path(__file__).resolve().parent / "peers_worker.py"
DEFAULT_PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
IN_PROCESS = ("newsbeam", "newsbeam-fast", "trafilatura", "trafilatura-nocomments")
IN_WORKER = ("readability-lxml", "newspaper4k", "goose3", "news-please")


@dataclass(frozen=True)
class PeerResult:
    text: str
    title: str | None = None
    published: datetime | None = None  # aware, UTC; a bare date is taken as midnight UTC
    seconds: float = 0.0
    written: bool = True  # False: the extractor refused the page (newsbeam's article decision)
    refusal: str | None = None  # "error_type: message" of the refusal
    cpu_seconds: float | None = None  # process CPU time of the call, where measured


class PeerError(Exception):
    """The extractor raised (or its worker died) on this page; ``seconds`` it took to fail."""

    def __init__(self, message: str, seconds: float = 0.0) -> None:
        super().__init__(message)
        self.seconds = seconds


Peer = Callable[[bytes | str, str], PeerResult]


def to_utc(value: Any) -> datetime | None:
    """A peer's date (datetime, date or ISO string) as an aware UTC datetime; naive means UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            try:
                value = date.fromisoformat(text[:10])
            except ValueError:
                return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- in-process peers --------------------------------------------------------------------------


BACKFILL_NOW = datetime(2026, 6, 1, tzinfo=UTC)  # the run's clock: after every page, for plausibility


def newsbeam(html: bytes | str, url: str) -> PeerResult:
    """``ExtractArticles``' extraction and decision with its default settings."""
    from transforms import extract

    return run_stage(extract, html, url, precision_pass=True)


def newsbeam_fast(html: bytes | str, url: str) -> PeerResult:
    """The same without the second (``favor_precision``) trafilatura pass."""
    from transforms import extract

    return run_stage(extract, html, url, precision_pass=False)


def run_stage(module: Any, html: bytes | str, url: str, precision_pass: bool = True) -> PeerResult:
    """``module.extract_html`` then ``module.build_article`` on an entry without feed context
    (``module`` is ``transforms.extract`` or an older revision of it); both timed."""
    from transforms.records import FeedEntry

    entry = FeedEntry(link=url, url=url, feed_url=None, publisher=None, first_seen_at=BACKFILL_NOW)
    settings = module.ExtractSettings(precision_pass=precision_pass)
    started, cpu = time.perf_counter(), time.process_time()
    extracted = module.extract_html(html, url, precision_pass=precision_pass)
    try:
        article, _rejected = module.build_article(entry, extracted, url, BACKFILL_NOW, settings)
    except module.ArticleRejected as err:
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        refusal = f"{err.error_type}: {err}"
        return PeerResult(extracted.text or "", extracted.title, None, seconds, False, refusal, cpu)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return PeerResult(article.text, article.title, article.published_at, seconds, True, None, cpu)


def baseline_peer(ref: str) -> Peer:
    """``newsbeam`` with ``transforms/extract.py`` as it was at git revision ``ref`` (the rest of
    the package as it is now), for before/after comparisons in one run."""
    import importlib.util
    import tempfile

    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:transforms/extract.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="newsbeam-baseline-"))
    path = folder / "extract_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"newsbeam_extract_{ref}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)

    def run(html: bytes | str, url: str) -> PeerResult:
        return run_stage(module, html, url)

    return run


def _trafilatura(html: bytes | str, url: str, include_comments: bool) -> PeerResult:
    import trafilatura
    from trafilatura.settings import Document

    started, cpu = time.perf_counter(), time.process_time()
    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=include_comments
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not isinstance(document, Document):
        return PeerResult("", None, None, seconds, cpu_seconds=cpu)
    text = document.text or ""
    if include_comments and document.comments:  # what trafilatura.extract() returns
        text = f"{text}\n{document.comments}"
    return PeerResult(text, document.title or None, to_utc(document.date), seconds, cpu_seconds=cpu)


def trafilatura_default(html: bytes | str, url: str) -> PeerResult:
    return _trafilatura(html, url, include_comments=True)


def trafilatura_nocomments(html: bytes | str, url: str) -> PeerResult:
    return _trafilatura(html, url, include_comments=False)


# -- peers in the .venv-peers worker -----------------------------------------------------------


def peers_python() -> Path:
    return Path(os.environ.get("NEWSBEAM_PEERS_PYTHON", DEFAULT_PEERS_PYTHON))


class PeerWorker:
    """One long-lived ``peers_worker.py`` process speaking JSON lines over its stdin/stdout."""

    def __init__(self, python: Path) -> None:
        self._process = subprocess.Popen(
            [str(python), str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        hello = self._read()
        self.available: tuple[str, ...] = tuple(hello.get("available", ()))
        self.errors: dict[str, str] = dict(hello.get("errors", {}))

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise PeerError(f"peer worker exited with status {self._process.poll()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def extract(self, peer: str, html: bytes | str, url: str) -> PeerResult:
        raw = html.encode("utf-8") if isinstance(html, str) else html
        request = {"peer": peer, "html_b64": base64.b64encode(raw).decode("ascii"), "url": url}
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        reply = self._read()
        if not reply.get("ok"):
            raise PeerError(str(reply.get("error")), float(reply.get("seconds") or 0.0))
        return PeerResult(reply["text"] or "", reply["title"], to_utc(reply["published"]), reply["seconds"])

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class _WorkerHandle:
    """Starts the worker on first use (never at import); ``close_worker`` ends it."""

    def __init__(self) -> None:
        self.worker: PeerWorker | None = None
        self.failed: str | None = None

    def get(self) -> PeerWorker | None:
        if self.worker is None and self.failed is None:
            python = peers_python()
            if not python.exists():
                self.failed = f"{python} not found (run `make bench-install`)"
                return None
            try:
                self.worker = PeerWorker(python)
            except (OSError, PeerError, json.JSONDecodeError) as err:
                self.failed = f"peer worker did not start: {err}"
                return None
            atexit.register(self.worker.close)
        return self.worker


_HANDLE = _WorkerHandle()


def close_worker() -> None:
    if _HANDLE.worker is not None:
        _HANDLE.worker.close()
    _HANDLE.worker = None
    _HANDLE.failed = None


def _in_worker(name: str) -> Peer:
    def run(html: bytes | str, url: str) -> PeerResult:
        worker = _HANDLE.get()
        if worker is None:
            raise PeerError(_HANDLE.failed or "no peer worker")
        return worker.extract(name, html, url)

    run.__name__ = name.replace("-", "_")
    return run


PEERS: dict[str, Peer] = {
    "newsbeam": newsbeam,
    "newsbeam-fast": newsbeam_fast,
    "trafilatura": trafilatura_default,
    "trafilatura-nocomments": trafilatura_nocomments,
    **{name: _in_worker(name) for name in IN_WORKER},
}


def available_peers(names: Sequence[str] | None = None) -> dict[str, Peer]:
    """The peers that can run here (in ``PEERS`` order); starts the worker if one is asked for."""
    wanted = list(PEERS) if names is None else list(names)
    unknown = [name for name in wanted if name not in PEERS]
    if unknown:
        raise KeyError(f"unknown peers {unknown}; known: {list(PEERS)}")
    found: dict[str, Peer] = {}
    for name in PEERS:
        if name not in wanted:
            continue
        if name in IN_PROCESS:
            found[name] = PEERS[name]
            continue
        worker = _HANDLE.get()
        if worker is not None and name in worker.available:
            found[name] = PEERS[name]
    return found


def unavailable_reasons() -> dict[str, str]:
    """Why each worker peer that is not available is missing."""
    worker = _HANDLE.get()
    if worker is None:
        return {name: _HANDLE.failed or "no peer worker" for name in IN_WORKER}
    return {
        name: worker.errors.get(name, "not importable") for name in IN_WORKER if name not in worker.available
    }


def extract_batch(
    name: str, pages: Sequence[tuple[bytes | str, str]]
) -> tuple[list[PeerResult | None], float]:
    """Every page through one peer: results (``None`` where it raised) and total extraction
    seconds, failed calls included."""
    peer = PEERS[name]
    results: list[PeerResult | None] = []
    total = 0.0
    for html, url in pages:
        started = time.perf_counter()
        try:
            result = peer(html, url)
        except PeerError as err:
            total += err.seconds
            results.append(None)
            continue
        except Exception:  # an in-process extractor's bug on one page is a failed page
            total += time.perf_counter() - started
            results.append(None)
            continue
        total += result.seconds
        results.append(result)
    return results, total


if __name__ == "__main__":  # a smoke check: which peers run here
    found = available_peers()
    print("available:", ", ".join(found))
    for peer_name, reason in unavailable_reasons().items():
        print(f"missing {peer_name}: {reason}", file=sys.stderr)
    close_worker()
