"""The report page in a real headless Chromium: no console errors, the story titles are shown, and
hostile titles stay text.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL on file descriptors 3 and 4), so no WebSocket client is needed. Debian's
``chromium`` package provides the browser; without it the test is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.report import write_report
from tests.output_factory import G7, HOSTILE, KURSK, QUAKE, newsroom, write_output

pytestmark = pytest.mark.slow

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class DevTools:
    """A minimal DevTools-protocol client over ``--remote-debugging-pipe``."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds() -> None:  # in the child: the protocol's fds are 3 (in) and 4 (out)
            low = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(low[0], 3)
            os.dup2(low[1], 4)

        assert CHROMIUM
        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=wire_fds,
            pass_fds=(3, 4),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        seen = next((e for e in self.events if e.get("method") == method), None)
        while seen is None:
            if time.monotonic() > deadline:
                raise TimeoutError(method)
            event = self._read()
            self.events.append(event)
            if event.get("method") == method:
                seen = event
        return seen

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"chromium closed the DevTools pipe:\n{stderr[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    tools = DevTools(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield tools
    finally:
        tools.close()


def _problems(events: list[dict[str, Any]], session: str) -> list[str]:
    """Console errors and warnings, uncaught exceptions and browser log errors (CSP violations...)."""
    found = []
    for event in events:
        if event.get("sessionId") != session:
            continue
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            found.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
            found.append(f"log {params['entry'].get('source')}: {params['entry'].get('text')}")
    return found


PROBE = """JSON.stringify({
  title: document.title,
  headlines: [...document.querySelectorAll('.story h3 > :not(.rank)')].map(h => h.innerText),
  related: [...document.querySelectorAll('.story .related-title')].map(a => a.innerText),
  charts: [...document.querySelectorAll('svg.chart')].map(s => {
    const box = s.getBoundingClientRect(); return [Math.round(box.width), Math.round(box.height)]; }),
  bars: document.querySelectorAll('#volume svg rect').length,
  cells: document.querySelectorAll('#entities svg rect').length,
  scripts: document.scripts.length,
  pwned: window.__pwned === undefined ? null : window.__pwned,
  images: document.images.length,
  text: document.body.innerText,
})"""


def _open(browser: DevTools, page: Path) -> tuple[str, dict[str, Any]]:
    """Load ``page`` in a new tab; its session id and what ``PROBE`` saw."""
    browser.events.clear()
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        browser.send(f"{domain}.enable", session)
    browser.send("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired")
    time.sleep(0.3)  # late console messages, if any
    probe = browser.send("Runtime.evaluate", session, expression=PROBE, returnByValue=True)
    return session, json.loads(probe["result"]["value"])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    articles, failures = newsroom()
    out = tmp_path_factory.mktemp("out")
    return write_report(write_output(out, articles, failures), out / "report.html")


def test_report_loads_without_errors_and_shows_the_stories(browser: DevTools, report: Path) -> None:
    session, seen = _open(browser, report)

    assert _problems(browser.events, session) == []
    assert seen["title"].startswith("newsbeam report")
    assert seen["headlines"][:2] == [KURSK, G7]
    assert any(QUAKE in h for h in seen["headlines"])
    assert "Pyongyang sends deminers and builders to Kursk" in seen["related"]
    assert "4 articles from 3 outlets" in seen["text"]
    # hostile title: shown as text, nothing ran, no image was created from it
    assert any(HOSTILE in h for h in seen["headlines"])
    assert seen["pwned"] is None
    assert seen["scripts"] == 0
    assert seen["images"] == 0
    # the three charts are laid out with a size, with bars and heatmap cells drawn
    assert len(seen["charts"]) == 3
    assert all(w > 100 and h > 40 for w, h in seen["charts"]), seen["charts"]
    assert seen["bars"] >= 6
    assert seen["cells"] >= 8


def test_an_injected_script_would_be_blocked_and_reported(
    browser: DevTools, report: Path, tmp_path: Path
) -> None:
    """The check has teeth: a script smuggled into the page is refused by the page's CSP, and the
    refusal is one of the console errors the test above requires to be absent."""
    tampered = tmp_path / "tampered.html"
    tampered.write_text(
        report.read_text(encoding="utf-8").replace("</main>", "<script>window.__pwned = 3</script></main>"),
        encoding="utf-8",
    )

    session, seen = _open(browser, tampered)

    assert seen["pwned"] is None
    assert any("Content Security Policy" in problem for problem in _problems(browser.events, session))
