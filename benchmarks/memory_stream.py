"""A long streaming run on Prism: is RSS flat once state is pruned (issue 7), does the pipeline
keep up with its feeds, and how soon does an article reach Parquet (issue 14)?

    .venv/bin/python -m benchmarks.memory_stream [--minutes 20] [--sample-every 10]
    # issue 14's run: 3.2 articles/s for 10 minutes, 10% syndicated copies
    .venv/bin/python -m benchmarks.memory_stream --minutes 10 --every 2.5 --poll-s 10 \
        --copies 0.1 --marks 2,5,10

Serves a generated site much larger than the bundled sample (``benchmarks.corpus.build_site``) in
replay mode: one more item per feed every ``--every`` seconds, each feed listing only its ``--window``
newest items, so new articles keep arriving for the whole run. Starts ``newsbeam run --duration
MINUTES*60`` on Prism (``--runner=PrismRunner``: without it ``--duration`` runs on the local
FnApiRunner, which holds every output until the end) with a job config whose TTLs are short
(``--ttl-minutes``, ``--lateness-s``) so that state is pruned well within the run, and samples
every ``--sample-every`` seconds the RSS of the whole process tree (``/proc/PID/status`` VmRSS),
per kind of process (the newsbeam driver, Prism, SDK worker processes), and the articles written
so far (Parquet footers). Prints RSS at the ``--marks`` (default 2, 10 and 20 minutes), the
maximum and the growth between the last two marks; the samples go to a CSV file (its path is
printed).  Then, from what was written: articles/s after the first mark, the latency of each
article from the moment its feed first listed it to its Parquet file's time (percentiles, and
how many exceed the target: poll interval + ``write.max_buffering_s`` + 30 s), the rows with
``story_id`` and ``duplicate_of``, the corpus's syndicated pairs (``--copies``) marked as copies,
and the timer sets per article from the run summary.

With Beam's default LOOPBACK environment on Prism the Python SDK harness runs inside the driver
process, so "driver" is the driver plus the SDK worker; ``--environment-type PROCESS`` would
put workers in their own processes (counted as "workers"). The sample server runs in this
process and is not measured. Exit status 2 if Prism is not built (``make prism``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import html
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import yaml

from benchmarks.corpus import build_site
from pipelines.cli import find_prism
from pipelines.query import connect
from samples import BASE_URL_PLACEHOLDER
from samples.server import Replay, SampleSite

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
MARKS_MIN = (2, 10, 20)
KINDS = ("driver", "prism", "workers", "other")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class SiteFeed:
    path: str
    publisher: str
    items: int


def site_feeds(site_dir: Path) -> list[SiteFeed]:
    """The site's feeds (from manifest.json when it lists them) and their item counts."""
    names: dict[str, str] = {}
    manifest = site_dir / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for pub in data.get("publishers", []):
            for feed in pub.get("feeds", []):
                names[feed["path"]] = pub["name"]
    feeds = []
    for file in sorted((site_dir / "feeds").iterdir()):
        if file.suffix not in (".xml", ".atom"):
            continue
        path = "/feeds/" + file.name
        items = len(re.findall(rb"<(?:item|entry)\b", file.read_bytes()))
        if items and (not names or path in names):
            feeds.append(SiteFeed(path, names.get(path, file.stem), items))
    return feeds


def job_config(output: Path, feeds: Sequence[SiteFeed], args: argparse.Namespace) -> dict[str, object]:
    """config/local.yaml's settings (127.0.0.1 allowed, no crawl delay) with short TTLs."""
    poll_s = args.poll_s or args.every
    return {
        "output": str(output),
        "http": {"timeout_s": 10, "retries": 1, "backoff_s": 0.2, "allow_private_addresses": True},
        "fetch": {"min_host_delay_s": 0.0, "respect_robots": True},
        "polling": {"min_interval_s": poll_s / 2, "max_interval_s": poll_s * 3},
        # Short TTLs so that pruning happens within the run: a seen URL (feed entry, link,
        # canonical) is freed TTL + lateness after it was kept.
        "dedup": {
            "url_ttl_days": args.ttl_minutes / 1440,
            "url_allowed_lateness_s": args.lateness_s,
            "near_ttl_days": args.ttl_minutes / 1440,
            "near_allowed_lateness_s": args.lateness_s,
        },
        # the story window as short as the TTLs, the lateness as the URL dedup's
        "stories": {"window_hours": args.ttl_minutes / 60, "allowed_lateness_hours": args.lateness_s / 3600},
        "extract": {"min_words": 50},
        "write": {"batch_size": 500, "max_buffering_s": args.max_buffering_s},
        "feeds": [
            {"url": f.path, "publisher": f.publisher, "language": "en", "poll_interval_s": poll_s}
            for f in feeds
        ],
    }


# --------------------------------------------------------------------------------------------
# Sampling: the process tree's RSS from /proc, the rows written from the Parquet footers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    rss: int  # bytes
    cpu_s: float
    cmdline: tuple[str, ...]


def _read_proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # gone
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    cpu_s = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    return Proc(
        pid, int(fields[1]), int(statm[1]) * PAGE_SIZE, cpu_s, tuple(c.decode() for c in cmdline if c)
    )


def process_tree(root: int) -> list[Proc]:
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            proc = _read_proc(int(entry))
            if proc is not None:
                procs[proc.pid] = proc
    tree, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        if pid in procs:
            tree.append(procs[pid])
            frontier.extend(p.pid for p in procs.values() if p.ppid == pid)
    return tree


def kind_of(proc: Proc, root: int) -> str:
    if proc.pid == root:
        return "driver"
    exe = Path(proc.cmdline[0]).name if proc.cmdline else ""
    if exe == "prism":
        return "prism"
    if any("sdk_worker" in c or "worker_pool" in c or exe == "boot" for c in proc.cmdline):
        return "workers"
    return "other"


class RowCounter:
    """Rows in the complete Parquet files under a table (files are renamed in when complete)."""

    def __init__(self, table: Path) -> None:
        self.table = table
        self._rows: dict[Path, int] = {}

    def count(self) -> tuple[int, int]:
        for file in self.table.glob("date=*/*.parquet"):
            if file not in self._rows:
                try:
                    self._rows[file] = pq.read_metadata(file).num_rows
                except (OSError, ValueError):  # renamed away by now, or not readable yet
                    continue
        return sum(self._rows.values()), len(self._rows)


FIELDS = (
    "t_s",
    "rss_total_mib",
    *(f"rss_{kind}_mib" for kind in KINDS),
    "processes",
    "cpu_s",
    "articles",
    "article_files",
    "failures",
    "load1",
)


def sample(t_s: float, root: int, articles: RowCounter, failures: RowCounter) -> dict[str, float]:
    tree = process_tree(root)
    rss = dict.fromkeys(KINDS, 0)
    for proc in tree:
        rss[kind_of(proc, root)] += proc.rss
    rows, files = articles.count()
    failed, _ = failures.count()
    row: dict[str, float] = {
        "t_s": round(t_s, 1),
        "rss_total_mib": round(sum(rss.values()) / MIB, 1),
        **{f"rss_{kind}_mib": round(rss[kind] / MIB, 1) for kind in KINDS},
        "processes": len(tree),
        "cpu_s": round(sum(p.cpu_s for p in tree), 1),
        "articles": rows,
        "article_files": files,
        "failures": failed,
        "load1": float(Path("/proc/loadavg").read_text().split()[0]),
    }
    return row


def at_minute(samples: Sequence[dict[str, float]], minute: float) -> dict[str, float] | None:
    """The sample nearest ``minute`` (None if the run did not get within a sample of it)."""
    if not samples:
        return None
    best = min(samples, key=lambda s: abs(s["t_s"] - minute * 60))
    gap = max(s2["t_s"] - s1["t_s"] for s1, s2 in itertools.pairwise(samples)) if len(samples) > 1 else 0
    return best if abs(best["t_s"] - minute * 60) <= max(gap, 1.0) else None


def report(samples: Sequence[dict[str, float]], minutes: float, at: Sequence[float] = MARKS_MIN) -> str:
    columns = ("total", *KINDS)
    lines = [
        f"{'at':>8}  " + "  ".join(f"{c:>9}" for c in columns) + f"  {'articles':>8}  {'load1':>5}",
    ]
    marks: list[float] = sorted({*(m for m in at if m <= minutes), minutes})
    chosen: dict[float, dict[str, float]] = {}
    for minute in marks:
        row = at_minute(samples, minute)
        if row is None:
            lines.append(f"{minute:>6g} m  (no sample)")
            continue
        chosen[minute] = row
        lines.append(
            f"{minute:>6g} m  "
            + "  ".join(f"{row[f'rss_{c}_mib']:>9.1f}" for c in columns)
            + f"  {int(row['articles']):>8}  {row['load1']:>5.2f}"
            + f"   (sample at {row['t_s']:.0f} s)"
        )
    peak = max(samples, key=lambda s: s["rss_total_mib"])
    lines.append(
        f"{'max':>8}  "
        + "  ".join(f"{max(s[f'rss_{c}_mib'] for s in samples):>9.1f}" for c in columns)
        + f"   (total peak at {peak['t_s']:.0f} s)"
    )
    if len(marks) >= 2 and marks[-2] in chosen and marks[-1] in chosen:
        a, b = chosen[marks[-2]], chosen[marks[-1]]
        growth = "  ".join(f"{b[f'rss_{c}_mib'] - a[f'rss_{c}_mib']:>+9.1f}" for c in columns)
        lines.append(f"{marks[-2]:g}->{marks[-1]:g} m".rjust(8) + "  " + growth)
        lines.append(
            f"articles written {marks[-2]:g}->{marks[-1]:g} min: {int(b['articles'] - a['articles'])}"
        )
        lines.extend(trend(samples, marks[-2], marks[-1], columns))
    lines.append("RSS in MiB: VmRSS summed over the process tree (pages shared by processes count in each)")
    return "\n".join(lines)


def trend(
    samples: Sequence[dict[str, float]], start_min: float, end_min: float, columns: Sequence[str]
) -> list[str]:
    """Less noisy than two single samples: the mean over the minute before each mark, and the
    least-squares slope over the samples between the marks (garbage collection and bundle
    sizes make single samples swing by tens of MiB)."""

    def window(end: float) -> list[dict[str, float]]:
        return [s for s in samples if (end - 1) * 60 <= s["t_s"] <= end * 60 + 1]

    first, last = window(start_min), window(end_min)
    between = [s for s in samples if start_min * 60 <= s["t_s"] <= end_min * 60 + 1]
    if not first or not last or len(between) < 3:
        return []
    lines = []
    for label, rows in (
        (f"{start_min - 1:g}-{start_min:g} m", first),
        (f"{end_min - 1:g}-{end_min:g} m", last),
    ):
        lines.append(
            f"{'mean ' + label:>8}  "
            + "  ".join(f"{statistics.fmean(r[f'rss_{c}_mib'] for r in rows):>9.1f}" for c in columns)
        )
    times = [s["t_s"] / 60 for s in between]
    slopes = [
        statistics.linear_regression(times, [s[f"rss_{c}_mib"] for s in between]).slope for c in columns
    ]
    lines.append(
        f"{'slope':>8}  "
        + "  ".join(f"{slope:>+9.2f}" for slope in slopes)
        + f"   MiB/min, least squares over {start_min:g}-{end_min:g} min ({len(between)} samples)"
    )
    return lines


def read_samples(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as source:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(source)]


# --------------------------------------------------------------------------------------------
# What was written: rate, latency from release to Parquet, stories, copies, timers
# --------------------------------------------------------------------------------------------

_LINK = re.compile(r'<link>([^<]+)</link>|<link rel="alternate" type="text/html" href="([^"]+)"')


def release_offsets(site: SampleSite, replay: Replay) -> dict[str, float]:
    """Seconds after the server started at which each article path is first listed in its feed."""
    out: dict[str, float] = {}
    for feed in site.content.feeds.values():
        for k, item in enumerate(feed.items):  # oldest first
            match = _LINK.search(item)
            if match:
                link = html.unescape(match.group(1) or match.group(2)).replace(
                    BASE_URL_PLACEHOLDER, site.base_url
                )
                path = urlsplit(link).path
                out[path] = max(0, k - replay.initial + 1) * replay.every_s
    return out


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stream_report(
    output: Path,
    released_at: dict[str, float],
    t0: float,
    summary: str,
    warm_up_s: float,
    end_s: float,
    target_s: float,
) -> str:
    """Rate after warm-up, latency (release to its Parquet file's time) percentiles, every row's
    story, timer sets per article.  Times are seconds since the server started at wall-clock
    ``t0`` (``released_at``: per path, when its feed first listed it); a file's time is its
    modification time (written under a temporary name, then renamed into place)."""
    files = sorted(output.glob("articles/date=*/*.parquet"))
    if not files:
        return "no article written"
    rows: list[tuple[str, float]] = []
    for file in files:
        at = file.stat().st_mtime - t0
        urls = pq.read_table(file, columns=["url"]).column(0).to_pylist()
        rows += [(urlsplit(url).path, at) for url in urls]
    latencies = [
        t - released_at[path] for path, t in rows if path in released_at and released_at[path] >= warm_up_s
    ]
    steady = [t for path, t in rows if warm_up_s <= t <= end_s]
    db = connect(output)
    total, with_story, copies = db.sql(
        "SELECT count(*), count(story_id), count(duplicate_of) FROM articles"
    ).fetchall()[0]
    lines = [
        f"articles written {len(rows)}; after warm-up ({warm_up_s / 60:g}-{end_s / 60:g} min): "
        f"{len(steady)} = {len(steady) / max(1.0, end_s - warm_up_s):.2f} articles/s",
        f"rows with story_id {with_story}/{total}; rows with duplicate_of {copies}",
    ]
    if latencies:
        over = sum(latency > target_s for latency in latencies)
        lines.append(
            "latency, release to Parquet (s): "
            + ", ".join(f"p{int(q * 100)} {percentile(latencies, q):.1f}" for q in (0.5, 0.9, 0.99))
            + f", max {max(latencies):.1f}; over the {target_s:g} s target: {over} of {len(latencies)}"
        )
    match = re.search(r"keyed state\s+(\d+) timer sets", summary)
    if match and total:
        lines.append(
            f"timer sets {match.group(1)} for {total} articles: {int(match.group(1)) / total:.2f} per article"
        )
    return "\n".join(lines)


def copies_marked(output: Path, site_dir: Path) -> str:
    """Of the syndicated pairs of the corpus (``copy_of`` in its manifest) both written, how many
    read as one copy of the other in the ``articles`` view (the later-seen one's root)."""
    manifest = json.loads((site_dir / "manifest.json").read_text(encoding="utf-8"))
    pairs = [(a["path"], a["copy_of"]) for a in manifest["articles"] if a.get("copy_of")]
    if not pairs:
        return "no syndicated copies in the corpus"
    db = connect(output)
    by_path = {
        urlsplit(url).path: (article_id, dup)
        for url, article_id, dup in db.sql("SELECT url, article_id, duplicate_of FROM articles").fetchall()
    }
    both = [(by_path[c], by_path[o]) for c, o in pairs if c in by_path and o in by_path]
    marked = sum(c[1] == o[0] or o[1] == c[0] or (c[1] is not None and c[1] == o[1]) for c, o in both)
    return f"syndicated pairs with both written: {len(both)}; marked as copies: {marked}"


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory_stream", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=20.0, help="length of the run (default 20)")
    parser.add_argument("--sample-every", type=float, default=10.0, metavar="S", help="seconds (default 10)")
    parser.add_argument(
        "--every", type=float, default=5.0, metavar="S", help="one new item per feed every S s (default 5)"
    )
    parser.add_argument("--window", type=int, default=20, help="items each feed lists (default 20)")
    parser.add_argument("--poll-s", type=float, help="the feeds' poll interval (default: --every)")
    parser.add_argument(
        "--max-buffering-s", type=float, default=10.0, help="write.max_buffering_s (default 10)"
    )
    parser.add_argument("--copies", type=float, default=0.0, help="share of syndicated copies in the corpus")
    parser.add_argument(
        "--marks", default=",".join(map(str, MARKS_MIN)), help="minutes to report RSS at (default 2,10,20)"
    )
    parser.add_argument("--feeds", type=int, default=8, help="feeds of the generated site (default 8)")
    parser.add_argument("--ttl-minutes", type=float, default=5.0, help="dedup.url_ttl_days, in minutes")
    parser.add_argument(
        "--lateness-s", type=float, default=60.0, help="dedup.url_allowed_lateness_s (default 60)"
    )
    parser.add_argument("--site-dir", type=Path, help="serve this site instead of generating one")
    parser.add_argument(
        "--work-dir", type=Path, default=Path("/tmp/newsbeam-memory"), help="site, output, logs, CSV"
    )
    parser.add_argument(
        "--environment-type", help="Beam --environment_type for Prism (default: Beam's, LOOPBACK)"
    )
    parser.add_argument("--grace-s", type=float, default=300.0, help="time allowed to drain after the run")
    parser.add_argument(
        "--from-csv", type=Path, metavar="CSV", help="only print the report of an earlier run's samples"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. `kill`) stops the run cleanly too: the finally below stops the job's processes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    marks = [float(m) for m in args.marks.split(",")]
    if args.from_csv is not None:
        print(report(read_samples(args.from_csv), args.minutes, marks))
        return 0
    prism = find_prism()
    if prism is None:
        print(
            "memory_stream: no Prism binary; build it once with `make prism` (or set NEWSBEAM_PRISM)",
            file=sys.stderr,
        )
        return 2
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = args.work_dir / stamp
    work.mkdir(parents=True, exist_ok=True)
    duration_s = args.minutes * 60
    per_feed = int(duration_s / args.every) + args.window + 30  # never runs dry
    if args.site_dir is not None:
        site_dir, made_by = args.site_dir, "--site-dir"
    else:
        made_by = "benchmarks.corpus.build_site"
        site_dir = build_site(work / "site", per_feed * args.feeds, seed=7, copies=args.copies)
        fewest = min((f.items for f in site_feeds(site_dir)), default=0)
        if 0 < fewest < per_feed:  # articles spread unevenly over the feeds: scale up once
            n_articles = per_feed * args.feeds * per_feed // fewest + args.feeds
            site_dir = build_site(work / "site-large", n_articles, seed=7, copies=args.copies)
    feeds = site_feeds(site_dir)
    short = [f.path for f in feeds if f.items < int(duration_s / args.every) + 1]
    print(f"site: {site_dir} ({made_by}), {len(feeds)} feeds, {sum(f.items for f in feeds)} items")
    print(
        f"replay: {args.window} items per feed at start, one more every {args.every:g} s, feeds list "
        f"the newest {args.window}; seen-URL TTL {args.ttl_minutes:g} min + {args.lateness_s:g} s lateness"
    )
    if short:
        print(f"warning: feeds that run dry before the end: {', '.join(short)}")
    output = work / "out"
    config = work / "job.yaml"
    config.write_text(yaml.safe_dump(job_config(output, feeds, args), sort_keys=False), encoding="utf-8")
    csv_path = work / "samples.csv"
    replay = Replay(initial=args.window, every_s=args.every, window=args.window)
    with SampleSite(site_dir, replay=replay) as site:
        released_at = release_offsets(site, replay)
        site_wall = time.time() - (time.monotonic() - site.content.started)  # the server's start
        command = [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--config",
            str(config),
            "--duration",
            f"{duration_s:g}",
            "--feeds-base-url",
            site.base_url,
            "--runner=PrismRunner",
            f"--prism_location={prism}",
        ]
        if args.environment_type:
            command.append(f"--environment_type={args.environment_type}")
        print("run:", " ".join(command))
        print(f"work dir: {work} (job.yaml, out/, run.log, samples.csv)")
        samples: list[dict[str, float]] = []
        with (
            open(work / "run.log", "w") as log,
            open(work / "summary.txt", "w") as out,
            open(csv_path, "w", newline="") as sink,
        ):
            writer = csv.DictWriter(sink, fieldnames=FIELDS)
            writer.writeheader()
            started = time.monotonic()
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=out,
                stderr=log,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            articles, failures = RowCounter(output / "articles"), RowCounter(output / "failures")
            deadline = started + duration_s + args.grace_s
            try:
                while proc.poll() is None and time.monotonic() < deadline:
                    row = sample(time.monotonic() - started, proc.pid, articles, failures)
                    samples.append(row)
                    writer.writerow(row)
                    sink.flush()
                    print(
                        f"{row['t_s']:>7.0f} s  rss {row['rss_total_mib']:7.1f} MiB "
                        f"(driver {row['rss_driver_mib']:.0f}, prism {row['rss_prism_mib']:.0f}, "
                        f"workers {row['rss_workers_mib']:.0f})  articles {int(row['articles'])}  "
                        f"load {row['load1']:.2f}",
                        flush=True,
                    )
                    next_at = started + len(samples) * args.sample_every
                    while proc.poll() is None and time.monotonic() < next_at:
                        time.sleep(min(1.0, max(0.0, next_at - time.monotonic())))
            finally:
                if proc.poll() is None:
                    print("memory_stream: the run did not end in time; stopping it", file=sys.stderr)
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                with contextlib.suppress(ProcessLookupError):  # leftovers (Prism, workers)
                    os.killpg(proc.pid, signal.SIGKILL)
    total, files = RowCounter(output / "articles").count()
    print(
        f"\nnewsbeam run exited {proc.returncode} after {time.monotonic() - started:.0f} s; "
        f"{total} articles in {files} files"
    )
    print((work / "summary.txt").read_text(encoding="utf-8").rstrip())
    if not samples:
        print("no samples taken", file=sys.stderr)
        return 1
    print()
    print(report(samples, args.minutes, marks))
    print(f"samples: {csv_path}")
    poll_s = args.poll_s or args.every
    target_s = poll_s + args.max_buffering_s + 30
    print(
        stream_report(
            output,
            released_at,
            site_wall,
            (work / "summary.txt").read_text(encoding="utf-8"),
            60 * marks[0],
            duration_s,
            target_s,
        )
    )
    print(copies_marked(output, site_dir))
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
