"""The pipeline on Prism, Beam's Go runner (what ``DirectRunner`` uses on a machine with internet).

Runs ``newsbeam run --runner=PrismRunner --prism_location=BINARY``: the Python SDK starts the
Prism binary as a job server on a free port, submits the portable pipeline and Prism starts
Python SDK workers in LOOPBACK mode (inside the submitting process). Nothing is downloaded:
without ``--prism_location`` the SDK would fetch Prism from GitHub releases; here it is built
from source by ``scripts/fetch-runners`` (``go install .../cmd/prism@v<beam version>``) and
cached under ``~/.cache/newsbeam/prism-<beam version>/``.

Unlike the FnApiRunner, Prism runs the graph as a streaming job with real watermarks and
processing-time timers, so the ``--duration`` run below is the pipeline's streaming behaviour
on an engine that executes it as such.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import find_prism
from samples.server import Replay, SampleSite
from tests.runners.support import (
    CONFIG,
    Run,
    article_urls,
    assert_bounded_run_matches_manifest,
    decisions,
    expected_articles,
    expected_failures,
    failures,
    newsbeam_run,
    once_args,
)

pytestmark = pytest.mark.runners


@pytest.fixture(scope="module")
def prism() -> Path:
    binary = find_prism()
    if binary is None:
        pytest.skip(
            "no Prism binary: run `make prism` or scripts/fetch-runners (needs go), or set NEWSBEAM_PRISM"
        )
    return binary


def test_bounded_run_on_prism_matches_the_manifest_and_the_default_runner(
    prism: Path, sample_site: SampleSite, reference_run: Run, tmp_path: Path
) -> None:
    run = newsbeam_run(
        once_args(sample_site.base_url, "--runner=PrismRunner", f"--prism_location={prism}"),
        tmp_path / "out",
    )
    assert_bounded_run_matches_manifest(run, sample_site.base_url)
    found, want = decisions(run.db()), decisions(reference_run.db())
    assert found == want, f"{sum(found[k] != want.get(k) for k in found)} articles decided otherwise"
    assert any(d for _, d, _ in found.values()) and len({s for *_, s in found.values()}) < len(found)
    assert str(prism) in run.log, "Prism was not started"


def test_streaming_run_on_prism_keeps_polling(prism: Path, tmp_path: Path) -> None:
    """A ``--duration`` run while the site releases its items: the job polls again and again,
    and once every item is out and polled, what it wrote is the whole corpus, as a bounded run
    writes it (checked on the files: in a streaming run Prism's counters can be off by a
    bundle's worth, README "Known issues")."""
    config = tmp_path / "stream.yaml"
    # Poll every 1-2 s (local.yaml keeps the production floor of 60 s) and flush files quickly.
    text = CONFIG.read_text().replace("language: en}", "language: en, poll_interval_s: 1}")
    text = text.replace("max_buffering_s: 30", "max_buffering_s: 2")
    config.write_text(text + "\npolling: {min_interval_s: 1, max_interval_s: 2}\n")
    # One item per feed at the start, then one every 0.5 s: the longest feed (25 items) is out
    # 12 s after the site starts, some seconds into the job; the job polls for 15 s.
    with SampleSite(replay=Replay(initial=1, every_s=0.5)) as site:
        feeds, base_url = len(site.feed_paths), site.base_url
        run = newsbeam_run(
            [
                "--config",
                str(config),
                "--duration",
                "15",
                "--feeds-base-url",
                base_url,
                "--runner=PrismRunner",
                f"--prism_location={prism}",
            ],
            tmp_path / "out",
            timeout_s=180,  # about 40 s when the job ends on time
        )
    polled = run.count("feeds polled")
    assert polled > feeds, f"each feed should be polled more than once:\n{run.summary}"
    db = run.db()
    urls = article_urls(db)
    assert len(urls) == len(set(urls)), "an article was written twice"
    want = expected_articles(base_url)
    assert set(urls) == want, (
        f"missing {sorted(want - set(urls))[:5]}, unexpected {sorted(set(urls) - want)[:5]}\n{run.summary}"
    )
    assert failures(db) == expected_failures(), run.summary
    # Items were first seen at many poll ticks: they arrived while the job was running.
    ((ticks,),) = db.sql("SELECT count(DISTINCT first_seen_at) FROM articles").fetchall()
    assert ticks > 2, f"every article first seen at {ticks} tick(s)"
    assert str(prism) in run.log, "Prism was not started"
