"""``newsbeam``: run the pipeline, serve the sample site, query the output."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transforms.records import FeedEntry

DEFAULT_CONFIG = "config/local.yaml"
DEMO_QUERY = """
SELECT date, publisher, count(*) AS articles
FROM articles
GROUP BY ALL
ORDER BY date, publisher
""".strip()
DEMO_MARKER = ".newsbeam-demo"
# The DirectRunner's local engine.  Named explicitly because the DirectRunner's switch
# sends any graph with a processing-time timer (GroupIntoBatches has one) to its older
# bundle-based engine, which (measured on Beam 2.75) drops the counters of outputs
# produced in timer callbacks, so the run summary could not be trusted.
DEFAULT_RUNNER = "FnApiRunner"
# Where `make prism` / `make flink` (scripts/fetch-runners) cache the runners they fetch or build.
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsbeam"
# Beam's portable runner reads a running job's state and message streams with
# --job_server_timeout (default 300 s) as their gRPC deadline: on Prism and Flink, any job running
# longer than that ends in DEADLINE_EXCEEDED (measured on 2.75; apache/beam#35867), which would
# stop every `--follow` after five minutes.  Their runs get a deadline no job reaches (ten years)
# unless one is given.
JOB_SERVER_TIMEOUT_S = 10 * 365 * 86400
LONG_JOB_RUNNERS = ("PrismRunner", "FlinkRunner")


def find_prism() -> Path | None:
    """A Prism binary: $NEWSBEAM_PRISM, else the one `make prism` built for this Beam version."""
    from apache_beam.version import __version__ as beam_version

    configured = os.environ.get("NEWSBEAM_PRISM")
    candidate = Path(configured) if configured else CACHE / f"prism-{beam_version}" / "prism"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


@contextmanager
def noting_interrupts(interrupted: threading.Event) -> Iterator[None]:
    """Within the block, Ctrl-C also sets ``interrupted`` (then raises KeyboardInterrupt as usual).

    A runner's SIGINT handler installed meanwhile (Beam's, which stops its job server) calls
    this one after its own work, so the flag is set even when the KeyboardInterrupt is raised
    where it gets swallowed.  Outside the main thread signals cannot be handled: nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        interrupted.set()
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def with_job_server_timeout(beam_args: list[str]) -> list[str]:
    """``beam_args`` plus a --job_server_timeout that outlasts the job, for Prism and Flink runs
    without one."""
    runners = [arg.split("=", 1)[1] for arg in beam_args if arg.startswith("--runner=")]
    given = any(arg.startswith(("--job_server_timeout", "--job-server-timeout")) for arg in beam_args)
    if not runners or runners[-1] not in LONG_JOB_RUNNERS or given:
        return beam_args
    return [*beam_args, f"--job_server_timeout={JOB_SERVER_TIMEOUT_S}"]


def eager_fnapi_metrics() -> None:
    """Make the FnApiRunner fold each stage's metrics eagerly.

    Beam 2.75's FnApiRunner folds a bundle's metrics into those of the stage's earlier bundles
    lazily (``consolidate(chain(new, earlier))``, ``fn_runner.py``): one generator nested per
    bundle, so a streaming run with many rounds of bundles (``--duration``: every tick and every
    round of timers) ends in ``RecursionError`` when its metrics are read.  Folding into a list
    each time gives the same metrics with no nesting.  Nothing is changed if Beam's internals
    differ from what this expects.
    """
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    lazy = getattr(fn_runner, "consolidate_monitoring_infos", None)
    if lazy is None or getattr(lazy, "eager", False):
        return

    def eager(metrics: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return list(lazy(metrics, *args, **kwargs))

    eager.eager = True  # type: ignore[attr-defined]
    fn_runner.consolidate_monitoring_infos = eager


DESCRIPTION = """\
newsbeam: a streaming news-ingestion pipeline on Apache Beam.

Polls RSS/Atom feeds, fetches and extracts the articles, drops URL duplicates and
writes Hive-partitioned Parquet (OUTPUT/articles/date=YYYY-MM-DD/, OUTPUT/failures/...)
that DuckDB reads directly.
"""


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _add_run_arguments(parser: argparse.ArgumentParser, *, demo: bool = False) -> None:
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help=f"YAML job config: feeds, HTTP limits, dedup TTL, output (default: {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--output",
        help="output directory (or gs://, s3:// prefix); overrides the config's 'output' "
        + ("(default: data)" if demo else "(config default: data)"),
        default="data" if demo else None,
    )
    if demo:
        return
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--once",
        action="store_true",
        help="poll every feed once, process what it lists, then stop (the default)",
    )
    mode.add_argument(
        "--follow",
        action="store_true",
        help="streaming run: keep polling each feed on its own adaptive interval until stopped "
        "(Ctrl-C prints the summary so far); the config's 'follow: true' does the same",
    )
    mode.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="streaming run: keep polling each feed on its interval for SECONDS, then stop",
    )
    mode.add_argument(
        "--input-jsonl",
        metavar="FILE",
        help="bounded backfill instead of feeds: JSON lines {url, publisher?, published_at?, "
        "title?, text?, html?} go through the same stages as fetched pages (see README)",
    )
    parser.add_argument(
        "--feeds-base-url",
        metavar="URL",
        help="base URL for relative feed URLs in the config (e.g. the sample site's)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbeam", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run the pipeline (feeds or a JSON-lines backfill)",
        description="Run the ingestion pipeline. Arguments newsbeam does not know are passed to "
        "Beam as pipeline options in --name=value form, e.g. --direct_num_workers=2 "
        "--direct_running_mode=multi_processing. Without --runner the local FnApiRunner "
        "(the DirectRunner's batch engine) runs the job.",
    )
    _add_run_arguments(run)

    demo = commands.add_parser(
        "demo",
        help="serve the bundled sample site, run the pipeline on it once, query the result",
        description="Start the bundled sample site on a free 127.0.0.1 port, run the pipeline "
        "once over its feeds on the DirectRunner, print the run summary and a DuckDB query. "
        "A previous demo output in the same directory is replaced.",
    )
    _add_run_arguments(demo, demo=True)

    samples = commands.add_parser("samples", help="the bundled sample news site")
    samples_commands = samples.add_subparsers(dest="samples_command", metavar="ACTION", required=True)
    samples_commands.add_parser(
        "serve",
        help="serve the sample site on 127.0.0.1 (for trying things by hand)",
        add_help=False,
    )
    samples_commands.add_parser(
        "generate",
        help="rebuild samples/site from the source texts (developers)",
        add_help=False,
    )

    commands.add_parser(
        "flink",
        help="a local Flink session cluster to run on: up, down, status",
        add_help=False,
    )

    query = commands.add_parser(
        "query",
        help='run SQL with DuckDB over the output (views "articles" and "failures")',
        description="Run SQL with DuckDB. The views 'articles' and 'failures' read "
        "OUTPUT/<table>/date=*/*.parquet with Hive partitioning, so 'date' is a column.",
    )
    query.add_argument("sql", help='e.g. "SELECT publisher, count(*) FROM articles GROUP BY 1"')
    query.add_argument("--output", default="data", help="output directory to query (default: data)")
    query.add_argument("--max-rows", type=int, default=50, help="rows to print at most (default: 50)")
    _add_view_commands(commands)
    return parser


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


SHORTCUTS = ("stories", "entities", "failures")


def _add_view_commands(commands: argparse._SubParsersAction) -> None:
    """The shortcuts over the output (SQL in pipelines/sql/), the report page, compaction."""
    output_help = "output directory to read (default: data)"
    stories = commands.add_parser(
        "stories",
        help="stories with the widest coverage: outlets, article counts, headline",
        description="Stories (articles sharing story_id; an article without one is its own story) "
        "with their outlets, article counts and the title of the canonical article (the earliest "
        "seen). SQL: pipelines/sql/stories.sql.",
    )
    entities = commands.add_parser(
        "entities",
        help="the most mentioned named entities (grouped on their key)",
        description="Named entities by mentions, grouped on the entity key (case and spacing "
        "folded). SQL: pipelines/sql/entities.sql.",
    )
    failures = commands.add_parser(
        "failures",
        help="failures by stage and error type",
        description="Dead-letter rows counted by stage and error type, with the latest message. "
        "SQL: pipelines/sql/failures.sql.",
    )
    failures.add_argument(
        "action",
        nargs="?",
        choices=("list", "replay"),
        default="list",
        help="list (default): counts by reason; replay: fetch and process the failed entries "
        "again, into the same output (other arguments as for `newsbeam run`)",
    )
    failures.add_argument(
        "--stage",
        action="append",
        choices=("fetch", "extract"),
        help="replay: only failures of this stage (repeatable; default: fetch and extract)",
    )
    failures.add_argument("--error-type", metavar="TYPE", help="replay: only this error type, e.g. timeout")
    failures.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"replay: the job config (default: {DEFAULT_CONFIG})"
    )
    for command in (stories, entities, failures):
        command.add_argument("--output", default="data", help=output_help)
        command.add_argument(
            "--date", type=_iso_date, metavar="YYYY-MM-DD", help="only this date partition (UTC)"
        )
    for command in (stories, entities):
        command.add_argument("--top", type=_positive_int, default=20, metavar="N", help="rows (default: 20)")
    entities.add_argument("--label", metavar="LABEL", help="only this spaCy label: PERSON, ORG, GPE, ...")

    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report page (charts, top stories, entities, failures)",
        description="Write one static HTML file with everything inlined (no server, no network): "
        "articles per day and outlet, top stories with their coverage across outlets, top "
        "entities over time, failures by reason.",
    )
    report.add_argument("--output", default="data", help=output_help)
    report.add_argument(
        "--to", default="report.html", metavar="FILE", help="HTML file (default: report.html)"
    )
    report.add_argument("--top", type=_positive_int, default=10, metavar="N", help="stories (default: 10)")

    compact = commands.add_parser(
        "compact",
        help="merge each partition's small Parquet files into few large ones, atomically",
        description="Merge the Parquet files of a date partition into few large ones. The "
        "partition directory is swapped in one rename, so a reader sees the old files or the "
        "new ones; row counts are checked before the swap. See the README for the guarantee.",
    )
    compact.add_argument("--output", default="data", help="output directory (local; default: data)")
    compact.add_argument("--date", type=_iso_date, metavar="YYYY-MM-DD", help="only this partition")
    compact.add_argument("--table", choices=("articles", "failures"), help="only this table (default: both)")
    compact.add_argument(
        "--min-age",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="skip partitions with a file newer than this, which a running job may still be "
        "writing (default: 300; 0 compacts everything)",
    )
    compact.add_argument(
        "--max-rows",
        type=_positive_int,
        default=1_000_000,
        metavar="N",
        help="rows per merged file at most (default: 1000000)",
    )


def _shortcut(args: argparse.Namespace) -> int:
    from pipelines.shortcuts import shortcut

    status, text = shortcut(
        args.output,
        args.command,
        day=args.date,
        top=getattr(args, "top", None),
        label=getattr(args, "label", None),
    )
    print(f"newsbeam {args.command}: {text}" if status else text, file=sys.stderr if status else sys.stdout)
    return status


def _report(args: argparse.Namespace) -> int:
    from pipelines.report import NoData, write_report

    try:
        path = write_report(args.output, args.to, top_stories=args.top)
    except NoData as err:
        print(f"newsbeam report: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _compact(args: argparse.Namespace) -> int:
    from pipelines.compact import CompactionError, compact_output

    try:
        results = compact_output(
            args.output,
            day=args.date,
            tables=(args.table,) if args.table else ("articles", "failures"),
            min_age_s=args.min_age,
            max_rows=args.max_rows,
        )
    except (CompactionError, OSError) as err:
        print(f"newsbeam compact: {err}", file=sys.stderr)
        return 1
    if not results:
        print(f"newsbeam compact: no partitions to compact in {args.output}")
    for result in results:
        print(result.describe())
    return 0


def _replay(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipelines.config import ConfigError, load_config
    from pipelines.replay import REPLAYABLE, failed_entries

    try:
        config = load_config(args.config, output=args.output)
        try:
            feeds = config.feed_specs()
        except ConfigError:
            feeds = []  # relative feed URLs without a base: publishers fall back to domains
        entries = failed_entries(
            config.output, tuple(args.stage or REPLAYABLE), args.error_type, args.date, feeds
        )
    except ConfigError as err:
        print(f"newsbeam: {err}", file=sys.stderr)
        return 2
    if not entries:
        print(f"newsbeam failures replay: no failed entries to replay in {config.output}")
        return 0
    print(f"newsbeam failures replay: {len(entries)} failed entries go through the pipeline again")
    return _run(args, beam_args, replay=tuple(entries))


def _run(
    args: argparse.Namespace,
    beam_args: list[str],
    feeds_base_url: str | None = None,
    replay: tuple[FeedEntry, ...] | None = None,
) -> int:
    # Imported here so that `newsbeam --help` stays fast.
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.config import ConfigError, ConfigFeeds, load_config
    from pipelines.flink import FlinkError, flink_run_args
    from pipelines.ingest import RunPlan, build_pipeline
    from pipelines.progress import ProgressReporter, live_counters
    from pipelines.summary import Summary, read_counters

    try:
        config = load_config(
            args.config,
            output=args.output,
            feeds_base_url=feeds_base_url or getattr(args, "feeds_base_url", None),
        )
        input_jsonl = getattr(args, "input_jsonl", None)
        if input_jsonl and not Path(input_jsonl).is_file() and "://" not in input_jsonl:
            raise ConfigError(f"--input-jsonl {input_jsonl}: no such file")
        if not input_jsonl and replay is None:
            if not config.feeds:
                raise ConfigError(f"{args.config}: no feeds configured")
            config.feed_specs()  # resolves and checks the URLs before anything runs
    except ConfigError as err:
        print(f"newsbeam: {err}", file=sys.stderr)
        return 2
    duration_s = getattr(args, "duration", None)
    follow = getattr(args, "follow", False) or (config.follow and not getattr(args, "once", False))
    if not input_jsonl and replay is None and duration_s is None and follow:
        duration_s = math.inf
    reload_feeds = None
    if not input_jsonl and duration_s is not None and config.polling.reload_feeds:
        base_url = feeds_base_url or getattr(args, "feeds_base_url", None)
        reload_feeds = ConfigFeeds(str(Path(args.config).resolve()), base_url)
    plan = RunPlan(
        output=config.output,
        input_jsonl=input_jsonl,
        duration_s=duration_s,
        reload_feeds=reload_feeds,
        replay=replay,
    )
    if not any(arg.startswith("--runner") for arg in beam_args):
        if duration_s is not None and math.isinf(duration_s):
            prism = find_prism()
            if prism is None:
                print(
                    "newsbeam: --follow needs a streaming runner: the local FnApiRunner writes "
                    "nothing until a run ends. Build Prism once with `make prism` (cached under "
                    f"{CACHE}), set NEWSBEAM_PRISM to a prism binary, or pass --runner=...",
                    file=sys.stderr,
                )
                return 2
            beam_args = ["--runner=PrismRunner", f"--prism_location={prism}", *beam_args]
        else:
            beam_args = [f"--runner={DEFAULT_RUNNER}", *beam_args]
    try:
        beam_args = flink_run_args(beam_args)
    except FlinkError as err:
        print(f"newsbeam: {err}", file=sys.stderr)
        return 2
    options = PipelineOptions(with_job_server_timeout(beam_args), save_main_session=False)
    if f"--runner={DEFAULT_RUNNER}" in beam_args:
        eager_fnapi_metrics()
    started = time.monotonic()
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config, plan)
    output = config.output if "://" in config.output else str(Path(config.output).resolve())
    result = None
    interrupted = threading.Event()
    try:
        with noting_interrupts(interrupted):
            if not any(arg.startswith("--runner=FnApiRunner") for arg in beam_args):
                print("newsbeam: starting the job…", file=sys.stderr)
            result = pipeline.run()
            read = live_counters(result)
            if read is None:
                result.wait_until_finish()
            else:
                with ProgressReporter(read):
                    result.wait_until_finish()
    except Exception:
        if not interrupted.is_set():
            raise
        # Ctrl-C, but its KeyboardInterrupt was lost on the way (raised inside a gRPC callback):
        # Beam's own SIGINT handler stops the job server first, so the job's streams break.
        print(f"\nnewsbeam: stopped; the complete files written so far are in {output}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        # Files are renamed into place only when complete, so what is there is usable.
        print(f"\nnewsbeam: stopped; the complete files written so far are in {output}", file=sys.stderr)
        if result is None:  # a runner that runs inside run() (the local FnApiRunner)
            return 130
        try:
            result.cancel()
            counters = read_counters(result)
        except Exception:  # the runner went down with the interrupt: no counters to report
            return 130
        print(Summary(counters).render(output))
        return 130
    summary = Summary(read_counters(result))
    print(summary.render(output))
    print(f"  wall time           {time.monotonic() - started:7.1f} s")
    return 0


def _demo(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipelines.query import connect, format_result
    from samples.server import SampleSite

    output = Path(args.output)
    if output.exists() and any(output.iterdir()) and not (output / DEMO_MARKER).exists():
        print(
            f"newsbeam: {output} exists and was not written by the demo; pass --output elsewhere",
            file=sys.stderr,
        )
        return 2
    for table in ("articles", "failures"):
        shutil.rmtree(output / table, ignore_errors=True)
    output.mkdir(parents=True, exist_ok=True)
    (output / DEMO_MARKER).write_text("written by `newsbeam demo`; replaced by the next demo\n")
    with SampleSite() as site:
        print(f"sample site: {site.base_url}/")
        status = _run(args, beam_args, feeds_base_url=site.base_url)
    if status:
        return status
    print("\nDuckDB over the output (`newsbeam query` runs any SQL):")
    print("\n".join(f"  {line}" for line in DEMO_QUERY.splitlines()))
    print(format_result(connect(output).sql(DEMO_QUERY), max_rows=100))
    return 0


def _query(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.query import connect, format_result

    try:
        print(format_result(connect(args.output).sql(args.sql), max_rows=args.max_rows))
    except duckdb.Error as err:
        print(f"newsbeam query: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["samples", "serve"]:
        from samples.server import main as serve

        return serve(argv[2:])
    if argv[:1] == ["flink"]:
        from pipelines.flink import main as flink

        return flink(argv[1:])
    if argv[:2] == ["samples", "generate"]:
        from samples.generate import main as generate

        return generate(argv[2:])
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "query":
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return _query(args)
    if args.command == "failures" and args.action == "replay":
        return _replay(args, extra)
    if args.command in (*SHORTCUTS, "report", "compact"):
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return {"report": _report, "compact": _compact}.get(args.command, _shortcut)(args)
    unknown = [arg for arg in extra if not arg.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "demo":
        return _demo(args, extra)
    return _run(args, extra)


if __name__ == "__main__":
    sys.exit(main())
