"""`newsbeam failures replay`: failed entries are fetched and processed again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipelines.cli import main
from pipelines.query import connect
from pipelines.replay import failed_entries
from tests.conftest import Reply, ScriptedServer
from tests.output_factory import failure, write_output

PAGE = (
    "<html lang='en'><head><title>Council approves budget</title></head><body><article>"
    "<h1>Council approves budget</h1>"
    + "".join(
        f"<p>Item {n}: the council approved the new budget after a long debate about schools, "
        f"roads and the {n}th district's library hours.</p>"
        for n in range(12)
    )
    + "</article></body></html>"
).encode()
AT = datetime(2025, 6, 20, 12, tzinfo=UTC)


def test_failed_entries_filters_by_stage_type_and_date(tmp_path: Path) -> None:
    write_output(
        tmp_path,
        failures=[
            failure("fetch", "timeout", "https://ex.org/a", AT),
            failure("fetch", "timeout", "https://ex.org/a", AT),  # failed twice: replayed once
            failure("fetch", "http_404", "https://ex.org/b", AT),
            failure("extract", "too_short", "https://ex.org/c", AT),
            failure("feed", "malformed_feed", "https://ex.org/feed.xml", AT),
            failure("entities", "tagger_error", "https://ex.org/d", AT),
        ],
    )
    urls = [e.url for e in failed_entries(str(tmp_path))]
    assert urls == ["https://ex.org/a", "https://ex.org/b", "https://ex.org/c"]
    assert [e.url for e in failed_entries(str(tmp_path), ("fetch",), "timeout")] == ["https://ex.org/a"]
    assert failed_entries(str(tmp_path), day=datetime(2025, 6, 21).date()) == []


def test_replay_turns_a_fixed_failure_into_an_article(tmp_path: Path, http_server: ScriptedServer) -> None:
    url = http_server.url("/news/budget.html")
    output = tmp_path / "out"
    write_output(output, failures=[failure("fetch", "http_503", url, AT)])
    config = tmp_path / "job.yaml"
    config.write_text(
        "http: {allow_private_addresses: true, retries: 0, timeout_s: 5}\n"
        "fetch: {min_host_delay_s: 0}\n"
        "feeds: [{url: 'http://127.0.0.1:9/feed.xml', publisher: Unused}]\n"
    )
    http_server.routes["/news/budget.html"] = Reply(200, PAGE, {"Content-Type": "text/html"})
    status = main(
        ["failures", "replay", "--output", str(output), "--config", str(config), "--stage", "fetch"]
    )
    assert status == 0
    rows = connect(output).sql("SELECT url, title FROM articles").fetchall()
    assert rows == [(url, "Council approves budget")]
    assert [path for path, _ in http_server.requests if path.startswith("/news/")] == ["/news/budget.html"]
    assert connect(output).sql("SELECT count(*) FROM failures").fetchall() == [(1,)]  # history kept
