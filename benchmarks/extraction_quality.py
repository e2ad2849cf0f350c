"""Extraction quality of ``ExtractArticles`` and its peers on the 181 extraction-aeb pages.

For every available extractor (``benchmarks.peers``): text precision/recall/F1 with the
article-extraction-benchmark scorer (``benchmarks.aeb``), the pages where it returns nothing
while trafilatura finds text, title exact match (whitespace/case folded) and publish date on
the right UTC day against ``benchmarks/gold`` (built by ``benchmarks.build_aeb_gold``), and
articles/s of extraction alone (same pages, same run, extractors interleaved page by page).  Figures for the ``dev`` half (where
rules were designed), the held-out ``test`` half and all pages.

newsbeam's date is what the stage stores without a feed date: ``resolve_published(None,
page date, canonical URL)`` (page metadata, else a date in the URL); ``newsbeam-page`` rows
give the page date alone.

    .venv/bin/python -m benchmarks.extraction_quality [--peers newsbeam,trafilatura] [--json out.json]

Exits 2 when ``../shared/data/extraction-aeb`` is absent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from benchmarks.aeb import (
    DATA,
    DATES_GOLD,
    HELD_OUT,
    SPLITS,
    TITLES_GOLD,
    Page,
    data_present,
    fold_title,
    load_gold,
    load_pages,
    prf,
    shingle_match,
    tokenize,
)
from benchmarks.peers import (
    IN_PROCESS,
    PEERS,
    PeerError,
    PeerResult,
    available_peers,
    close_worker,
    unavailable_reasons,
)

REFERENCE = "trafilatura"  # "trafilatura finds text" = its default settings find text
GROUPS = (*SPLITS, "all")
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # later than every page: plausibility only


@dataclass
class Run:
    name: str
    results: dict[str, PeerResult | None] = field(default_factory=dict)
    seconds: float = 0.0
    errors: int = 0


def call(run: Run, peer: Callable[[bytes, str], PeerResult], page: Page) -> None:
    """One timed extraction; a failure is an empty result, counted, its time included."""
    started = time.perf_counter()
    try:
        result: PeerResult | None = peer(page.html, page.url)
    except PeerError as err:
        run.seconds += err.seconds
        run.errors += 1
        result = None
    except Exception:  # an extractor bug on one page is an empty result, counted
        run.seconds += time.perf_counter() - started
        run.errors += 1
        result = None
    if result is not None:
        run.seconds += result.seconds
    run.results[page.page_id] = result


def run_peers(peers: dict[str, Callable[[bytes, str], PeerResult]], pages: Sequence[Page]) -> dict[str, Run]:
    """Every page through every extractor, interleaved page by page (the order of the
    extractors rotating), so that load from other jobs on the machine falls on all alike."""
    runs = {name: Run(name) for name in peers}
    if pages:  # one untimed call each first: lazy imports and model/regex loading
        for peer in peers.values():
            with contextlib.suppress(Exception):  # failures are counted on the timed pass
                peer(pages[0].html, pages[0].url)
    names = list(peers)
    for index, page in enumerate(pages):
        shift = index % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            call(runs[name], peers[name], page)
    return runs


def resolved_date(result: PeerResult | None, url: str) -> datetime | None:
    """newsbeam's stored date without a feed: page metadata, else the URL's."""
    from transforms.extract import resolve_published

    page_date = result.published if result else None
    published, _source, _rejected = resolve_published(None, page_date, url, NOW)
    return published


def in_group(page: Page, group: str) -> bool:
    return group == "all" or page.split == group


def text_of(result: PeerResult | None) -> str:
    return result.text if result is not None else ""


def text_rows(run: Run, pages: Sequence[Page], reference: Run | None) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for group in GROUPS:
        chosen = [p for p in pages if in_group(p, group)]
        texts = {p.page_id: text_of(run.results[p.page_id]) for p in chosen}
        scores = prf([shingle_match(p.body, texts[p.page_id]) for p in chosen])
        empty = sum(1 for p in chosen if not tokenize(texts[p.page_id]))
        lost = 0
        if reference is not None:
            for p in chosen:
                ref = reference.results.get(p.page_id)
                if ref is not None and tokenize(ref.text) and not tokenize(texts[p.page_id]):
                    lost += 1
        rows[group] = {
            "pages": len(chosen),
            "precision": scores.precision,
            "recall": scores.recall,
            "f1": scores.f1,
            "empty": empty,
            "empty_where_trafilatura_has_text": lost if reference is not None else None,
        }
    return rows


def title_rows(run: Run, pages: Sequence[Page], gold: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for group in GROUPS:
        chosen = [p for p in pages if in_group(p, group) and p.page_id in gold]
        hits = 0
        for p in chosen:
            result = run.results[p.page_id]
            if result and fold_title(result.title) == fold_title(gold[p.page_id]["title"]):
                hits += 1
        rows[group] = {"pages": len(chosen), "exact": hits, "rate": hits / len(chosen) if chosen else None}
    return rows


DATE_SUBSETS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "checked": lambda g: g["kind"] in ("url", "visible"),
    "checked_utc_certain": lambda g: g["kind"] in ("url", "visible") and bool(g["utc_certain"]),
    "metadata_only": lambda g: g["kind"] == "metadata-only",
}


def date_rows(
    dates: dict[str, date | None], pages: Sequence[Page], gold: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for subset, keep in DATE_SUBSETS.items():
        for group in GROUPS:
            chosen = [p for p in pages if in_group(p, group) and p.page_id in gold and keep(gold[p.page_id])]
            hits = sum(1 for p in chosen if dates[p.page_id] == date.fromisoformat(gold[p.page_id]["date"]))
            missing = sum(1 for p in chosen if dates[p.page_id] is None)
            rows[f"{subset}/{group}"] = {
                "pages": len(chosen),
                "right_day": hits,
                "none": missing,
                "rate": hits / len(chosen) if chosen else None,
            }
    return rows


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", help=f"comma-separated subset of {','.join(PEERS)}")
    parser.add_argument("--json", help="write every figure to this JSON file")
    parser.add_argument(
        "--show-misses", action="store_true", help="list newsbeam's title/date misses (dev only)"
    )
    parser.add_argument(
        "--dev-only",
        action="store_true",
        help="score the dev half only (for rule design: the test half stays unseen)",
    )
    args = parser.parse_args(argv)
    if not data_present():
        print(f"{DATA} is absent (see ../shared/data/README.md): nothing to measure", file=sys.stderr)
        return 2
    pages = load_pages()
    if args.dev_only:
        pages = [p for p in pages if p.split == "dev"]
    titles_gold, dates_gold = load_gold(TITLES_GOLD), load_gold(DATES_GOLD)
    names = args.peers.split(",") if args.peers else None
    peers = available_peers(names)
    if names is None or any(n not in IN_PROCESS for n in names):
        for missing, reason in unavailable_reasons().items():
            if names is None or missing in names:
                print(f"skipped {missing}: {reason}", file=sys.stderr)
    load_before = os.getloadavg()
    try:
        runs = run_peers({**peers, REFERENCE: PEERS[REFERENCE]}, pages)
    finally:
        close_worker()
    for name, run in runs.items():
        print(f"ran {name}: {run.seconds:.1f} s, {run.errors} errors", file=sys.stderr)
    load_after = os.getloadavg()
    reference = runs[REFERENCE]

    report: dict[str, Any] = {
        "pages": len(pages),
        "split_sizes": {s: sum(p.split == s for p in pages) for s in SPLITS},
        "held_out": HELD_OUT,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "cpus": os.cpu_count(),
        "extractors": {},
    }
    for name in peers:
        run = runs[name]
        entry: dict[str, Any] = {
            "text": text_rows(run, pages, reference),
            "errors": run.errors,
            "seconds": run.seconds,
            "articles_per_s": len(pages) / run.seconds if run.seconds else None,
        }
        if any(r and r.title for r in run.results.values()):
            entry["title"] = title_rows(run, pages, titles_gold)
        if any(r and r.published for r in run.results.values()):
            own = {
                p.page_id: (r.published.date() if (r := run.results[p.page_id]) and r.published else None)
                for p in pages
            }
            entry["date"] = date_rows(own, pages, dates_gold)
        if name.startswith("newsbeam"):
            resolved = {}
            for p in pages:
                when = resolved_date(run.results[p.page_id], p.url)
                resolved[p.page_id] = when.date() if when else None
            entry["date_page_only"] = entry.get("date")
            entry["date"] = date_rows(resolved, pages, dates_gold)
            if args.show_misses and name == "newsbeam":
                show_misses(run, pages, titles_gold, dates_gold, resolved)
        report["extractors"][name] = entry

    print_report(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=1, default=str)
    return 0


def show_misses(
    run: Run,
    pages: Sequence[Page],
    titles_gold: dict[str, dict[str, str]],
    dates_gold: dict[str, dict[str, Any]],
    resolved: dict[str, date | None],
) -> None:
    for p in pages:
        result = run.results[p.page_id]
        gold_title = titles_gold.get(p.page_id)
        if gold_title and fold_title(result.title if result else None) != fold_title(gold_title["title"]):
            print(
                f"TITLE {p.page_id[:10]} got {result.title if result else None!r} want {gold_title['title']!r}"
            )
        gold_date = dates_gold.get(p.page_id)
        if gold_date and resolved[p.page_id] != date.fromisoformat(gold_date["date"]):
            print(
                f"DATE  {p.page_id[:10]} got {resolved[p.page_id]} want {gold_date['date']} ({gold_date['kind']})"
            )


def print_report(report: dict[str, Any]) -> None:
    sizes = report["split_sizes"]
    print(
        f"extraction-aeb: {report['pages']} pages, dev {sizes['dev']} / test {sizes['test']} "
        f"(held out: {report['held_out']}); load average {report['loadavg_before'][0]:.2f} -> "
        f"{report['loadavg_after'][0]:.2f} on {report['cpus']} CPUs"
    )
    print("\nText (AEB 4-shingle scorer): P / R / F1, and pages with no text where trafilatura has some")
    print(
        f"{'extractor':<24}" + "".join(f"{g + ' P/R/F1':>24}" for g in GROUPS) + f"{'empty*':>8}{'art/s':>8}"
    )
    for name, entry in report["extractors"].items():
        text = entry["text"]
        cells = "".join(
            f"  {fmt(text[g]['precision'])}/{fmt(text[g]['recall'])}/{fmt(text[g]['f1'])}" for g in GROUPS
        )
        lost = text["all"]["empty_where_trafilatura_has_text"]
        speed = entry["articles_per_s"]
        print(f"{name:<24}{cells}{lost:>8}{speed:>8.1f}" if speed else f"{name:<24}{cells}{lost:>8}{'-':>8}")
    print("\nTitle exact match (whitespace/case folded) against benchmarks/gold/aeb-titles.json")
    for name, entry in report["extractors"].items():
        if "title" in entry:
            t = entry["title"]
            print(
                f"{name:<24}"
                + "".join(f"  {g} {t[g]['exact']}/{t[g]['pages']} = {fmt(t[g]['rate'])}" for g in GROUPS)
            )
    print("\nPublish date on the right UTC day (checked = URL or visible-text evidence; metadata_only apart)")
    for name, entry in report["extractors"].items():
        for key, label in (("date", name), ("date_page_only", f"{name}-page")):
            rows = entry.get(key)
            if not rows:
                continue
            for subset in DATE_SUBSETS:
                cells = "".join(
                    f"  {g} {rows[f'{subset}/{g}']['right_day']}/{rows[f'{subset}/{g}']['pages']} = "
                    f"{fmt(rows[f'{subset}/{g}']['rate'])}"
                    for g in GROUPS
                )
                print(f"{label:<24}{subset:<20}{cells}")


if __name__ == "__main__":
    sys.exit(main())
