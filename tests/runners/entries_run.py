"""``newsbeam run`` over the sample site's feed entries as polled at fixed times, on any runner.

    python -m tests.runners.entries_run --base-url URL --output DIR [BEAM_ARGS...]

A real poll stamps each entry with the moment its feed was fetched (``first_seen_at``), and the
near-duplicate and story stages order articles by it: two runs that poll at different moments,
or in another order, may rightly pick another canonical copy or story root.  To compare two
runners on the same input, this fetches every feed of ``config/local.yaml`` from the site once,
parses it with the poller's own ``parse_feed`` at a fixed time per feed (``--start`` plus the
feed's index, in config order), and runs the pipeline of ``newsbeam run`` on those entries
(the path ``newsbeam failures replay`` takes: URL dedup, fetch, extraction and everything after
it; only the HTTP poll of the feeds is left out).  Prints the run summary, exits as the run does.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import requests

from pipelines.cli import _run, build_parser
from pipelines.config import load_config
from tests.runners.support import CONFIG
from transforms.feeds import parse_feed
from transforms.records import FeedEntry

# 2025-06-20T00:00:00Z: after every date in the sample corpus, so no entry is "from the future".
DEFAULT_START = 1750377600.0


def fixed_entries(base_url: str, start: float) -> list[FeedEntry]:
    """Every entry the configured feeds list, feed ``i`` seen at ``start + i`` seconds."""
    config = load_config(CONFIG, feeds_base_url=base_url)
    entries: list[FeedEntry] = []
    for index, spec in enumerate(config.feed_specs()):
        response = requests.get(spec.url, timeout=10)
        response.raise_for_status()
        seen_at = datetime.fromtimestamp(start + index, tz=UTC)
        entries += parse_feed(response.content, spec, seen_at, response.headers.get("Content-Type")).entries
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.runners.entries_run", description=__doc__)
    parser.add_argument("--base-url", required=True, help="the sample site, e.g. http://127.0.0.1:8765")
    parser.add_argument("--output", required=True)
    parser.add_argument("--start", type=float, default=DEFAULT_START, help="first feed's poll time (epoch s)")
    args, beam_args = parser.parse_known_args(argv)
    entries = fixed_entries(args.base_url, args.start)
    run_args, _ = build_parser().parse_known_args(
        ["run", "--config", str(CONFIG), "--output", args.output, "--feeds-base-url", args.base_url]
    )
    return _run(run_args, beam_args, replay=tuple(entries))


if __name__ == "__main__":
    sys.exit(main())
