"""A streaming run (--duration) against the sample site in replay mode picks up new items, and
its rows have their stories."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.query import connect
from samples.server import Replay, SampleSite

CONFIG = Path(__file__).resolve().parents[2] / "config" / "local.yaml"

pytestmark = pytest.mark.slow


def test_duration_run_keeps_polling_and_ingests_released_items(tmp_path: Path) -> None:
    config = tmp_path / "stream.yaml"
    config.write_text(CONFIG.read_text().replace("language: en}", "language: en, poll_interval_s: 2}"))
    output = tmp_path / "out"
    buffer = io.StringIO()
    with SampleSite(replay=Replay(initial=1, every_s=1.0)) as site, contextlib.redirect_stdout(buffer):
        feeds = len(site.feed_paths)
        status = main(
            [
                "run",
                "--config",
                str(config),
                "--duration",
                "7",
                "--output",
                str(output),
                "--feeds-base-url",
                site.base_url,
            ]
        )
    summary = buffer.getvalue()
    assert status == 0
    polled = int(re.search(r"feeds polled\s+(\d+)", summary).group(1))  # type: ignore[union-attr]
    assert polled > feeds  # each feed polled more than once
    articles, with_story = connect(output).sql("SELECT count(*), count(story_id) FROM articles").fetchall()[0]
    assert articles > feeds  # more than the one item per feed released at the start
    assert with_story == articles  # the near-duplicate and story stages run in streaming too
    assert "every entry is an article, a duplicate or a failure" in summary
