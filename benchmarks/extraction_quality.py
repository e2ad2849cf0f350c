"""Extraction quality and the article decision on real pages: extraction-aeb (181 news
articles) and extraction-wcxb-dev (1,497 pages of 2025, articles and six other page types).

Every page goes through each extractor (``benchmarks.peers``), interleaved page by page in one
run.  ``newsbeam`` is what the stage does with a page that came without feed context (an
``--input-jsonl`` line with ``html``): ``extract_html`` then ``build_article``; a refusal means
the page is not written.  Other extractors write every page where they find text.

Figures, per set and split (``dev``: where rules and the page-type model were chosen,
``test``: held out, ``all``):

* articles: how many were dropped (not written); text F1 = the mean over pages of each page's
  4-shingle F1 (the article-extraction-benchmark tokens, ``benchmarks.aeb``), over all article
  pages with a dropped page counting 0, and over the written pages only; also the AEB scorer's
  corpus P/R/F1 (means of per-page P and R, a dropped page an empty prediction);
* pages that are not articles (wcxb): how many were written, by page type, and each refusal's
  error type (the confusion matrix of the decision);
* titles: exact match after folding case, whitespace and typographic quotes
  (``fold_title``), over the article pages with a gold title (a dropped page is a miss) and
  over the written ones; gold: ``benchmarks/gold/aeb-titles.json``, wcxb's own;
* dates: the UTC day of the written article's ``published_at`` (no feed date: page metadata,
  else the URL, else trafilatura's guess) against the gold day, over article pages with a gold date
  (aeb: the "checked" gold of ``benchmarks/gold/aeb-dates.json``);
* CPU milliseconds per page of each extractor (``time.process_time`` around the call), and
  wall milliseconds, in the same run on the same pages.

    .venv/bin/python -m benchmarks.extraction_quality [--sets aeb,wcxb] [--split dev|test|all]
        [--peers newsbeam,trafilatura] [--baseline REV] [--every K] [--show-misses] [--json out.json]

``--baseline REV`` adds ``newsbeam@REV``: ``transforms/extract.py`` as at that git revision.
``--show-misses`` (dev pages only) lists newsbeam's dropped articles, written non-articles,
title and date misses.  Exits 2 when the data is absent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from benchmarks import aeb, wcxb
from benchmarks.aeb import fold_title, prf, shingle_match
from benchmarks.peers import (
    IN_PROCESS,
    PEERS,
    PeerError,
    PeerResult,
    available_peers,
    baseline_peer,
    close_worker,
    unavailable_reasons,
)

REFERENCE = "trafilatura"
SETS = ("aeb", "wcxb")
GROUPS = ("dev", "test", "all")


@dataclass(frozen=True)
class Item:
    """One page of either set, with what the figures need."""

    source: str
    page_id: str
    url: str
    html: bytes
    split: str
    page_type: str  # "article" or wcxb's other type
    body: str
    title: str | None
    date: date | None

    @property
    def is_article(self) -> bool:
        return self.page_type == "article"


def load_items(sets: Sequence[str]) -> list[Item]:
    items: list[Item] = []
    if "aeb" in sets:
        titles, dates = aeb.load_gold(aeb.TITLES_GOLD), aeb.load_gold(aeb.DATES_GOLD)
        for page in aeb.load_pages():
            title = titles.get(page.page_id, {}).get("title")
            gold_date = dates.get(page.page_id)
            checked = gold_date is not None and gold_date["kind"] in ("url", "visible")
            items.append(
                Item(
                    "aeb",
                    page.page_id,
                    page.url,
                    page.html,
                    page.split,
                    "article",
                    page.body,
                    title,
                    date.fromisoformat(gold_date["date"]) if checked and gold_date else None,
                )
            )
    if "wcxb" in sets:
        for wpage in wcxb.load_pages():
            items.append(
                Item(
                    "wcxb",
                    wpage.page_id,
                    wpage.url,
                    wpage.html,
                    wpage.split,
                    wpage.page_type,
                    wpage.body,
                    wpage.title,
                    date.fromisoformat(wpage.date) if wpage.date else None,
                )
            )
    return items


@dataclass
class Run:
    name: str
    results: dict[tuple[str, str], PeerResult | None] = field(default_factory=dict)
    errors: int = 0


def call(run: Run, peer: Callable[[bytes, str], PeerResult], item: Item) -> None:
    """One extraction; an exception is an empty result (not written), counted."""
    try:
        result: PeerResult | None = peer(item.html, item.url)
    except PeerError:
        run.errors += 1
        result = None
    except Exception:  # an extractor bug on one page is an empty result, counted
        run.errors += 1
        result = None
    run.results[(item.source, item.page_id)] = result


def run_peers(peers: dict[str, Callable[[bytes, str], PeerResult]], items: Sequence[Item]) -> dict[str, Run]:
    """Every page through every extractor, interleaved page by page (the order rotating), so
    that load from other jobs on the machine falls on all alike."""
    runs = {name: Run(name) for name in peers}
    if items:  # one untimed call each first: lazy imports and model/regex loading
        for peer in peers.values():
            with contextlib.suppress(Exception):
                peer(items[0].html, items[0].url)
    names = list(peers)
    for index, item in enumerate(items):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            call(runs[name], peers[name], item)
        if index % 200 == 199:
            print(f"  {index + 1}/{len(items)} pages", file=sys.stderr)
    return runs


# -- figures -----------------------------------------------------------------------------------


def written(result: PeerResult | None) -> bool:
    return result is not None and result.written and bool(result.text.strip())


def page_f1(gold: str, text: str) -> float:
    tp, fp, fn = shingle_match(gold, text)
    if fp == fn == 0:
        return 1.0
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def article_figures(run: Run, items: Sequence[Item]) -> dict[str, Any]:
    articles = [i for i in items if i.is_article]
    results = [run.results[(i.source, i.page_id)] for i in articles]
    kept = [written(r) for r in results]
    f1s = [
        page_f1(i.body, r.text) if ok and r else 0.0 for i, r, ok in zip(articles, results, kept, strict=True)
    ]
    corpus = prf(
        [
            shingle_match(i.body, r.text if ok and r else "")
            for i, r, ok in zip(articles, results, kept, strict=True)
        ]
    )
    titled = [(i, r, ok) for i, r, ok in zip(articles, results, kept, strict=True) if i.title]
    title_hits = [ok and r is not None and fold_title(r.title) == fold_title(i.title) for i, r, ok in titled]
    dated = [(i, r, ok) for i, r, ok in zip(articles, results, kept, strict=True) if i.date]
    date_hits = [
        ok and r is not None and r.published is not None and r.published.date() == i.date
        for i, r, ok in dated
    ]
    n_kept = sum(kept)
    return {
        "articles": len(articles),
        "dropped": len(articles) - n_kept,
        "dropped_rate": rate(len(articles) - n_kept, len(articles)),
        "f1_all": statistics.mean(f1s) if f1s else None,
        "f1_written": statistics.mean([f for f, ok in zip(f1s, kept, strict=True) if ok]) if n_kept else None,
        "aeb_scorer": {"precision": corpus.precision, "recall": corpus.recall, "f1": corpus.f1},
        "titles": len(titled),
        "title_exact": sum(title_hits),
        "title_rate": rate(sum(title_hits), len(titled)),
        "title_rate_written": rate(sum(title_hits), sum(ok for _i, _r, ok in titled)),
        "dates": len(dated),
        "date_right": sum(date_hits),
        "date_rate": rate(sum(date_hits), len(dated)),
        "date_rate_written": rate(sum(date_hits), sum(ok for _i, _r, ok in dated)),
    }


def decision_figures(run: Run, items: Sequence[Item]) -> dict[str, Any]:
    """Per page type: pages, written, and refusals by error type."""
    table: dict[str, Counter[str]] = {}
    for item in items:
        result = run.results[(item.source, item.page_id)]
        if written(result):
            outcome = "written"
        elif result is None:
            outcome = "error"
        elif result.refusal:
            outcome = result.refusal.split(":", 1)[0]
        else:
            outcome = "no_text"
        table.setdefault(item.page_type, Counter())[outcome] += 1
    others = [i for i in items if not i.is_article]
    others_written = sum(table[t]["written"] for t in table if t != "article")
    return {
        "by_type": {t: dict(c) for t, c in sorted(table.items())},
        "others": len(others),
        "others_written": others_written,
        "others_written_rate": rate(others_written, len(others)),
    }


def speed_figures(run: Run, items: Sequence[Item]) -> dict[str, Any]:
    results = [run.results[(i.source, i.page_id)] for i in items]
    cpu = [r.cpu_seconds for r in results if r is not None and r.cpu_seconds is not None]
    wall = [r.seconds for r in results if r is not None]
    return {
        "pages_timed": len(cpu),
        "cpu_ms_per_page": 1000 * statistics.mean(cpu) if cpu else None,
        "wall_ms_per_page": 1000 * statistics.mean(wall) if wall else None,
    }


def figures(runs: dict[str, Run], items: Sequence[Item], sets: Sequence[str]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name, run in runs.items():
        entry: dict[str, Any] = {"errors": run.errors}
        for source in sets:
            for group in GROUPS:
                chosen = [i for i in items if i.source == source and group in ("all", i.split)]
                if not chosen:
                    continue
                entry[f"{source}/{group}"] = {
                    **article_figures(run, chosen),
                    "decision": decision_figures(run, chosen),
                    "speed": speed_figures(run, chosen),
                }
        entry["speed_all_pages"] = speed_figures(run, items)
        report[name] = entry
    return report


# -- output ------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 3) -> str:
    return "  -  " if value is None else f"{value:.{digits}f}"


def print_report(report: dict[str, Any], meta: dict[str, Any]) -> None:
    print(
        f"pages: {meta['sizes']}; load average {meta['loadavg_before'][0]:.2f} -> "
        f"{meta['loadavg_after'][0]:.2f} on {meta['cpus']} CPUs"
    )
    header = (
        f"{'extractor':<22}{'set/split':<12}{'F1 all':>8}{'F1 wr.':>8}{'dropped':>12}"
        f"{'title':>16}{'date':>16}{'others wr.':>14}{'cpu ms':>8}"
    )
    print("\nArticles: text F1 (mean per page; all = dropped count 0), dropped, title exact, date right day;")
    print("pages that are not articles written as articles; CPU ms per page\n")
    print(header)
    for name, entry in report.items():
        for key, fig in entry.items():
            if "/" not in key:
                continue
            dec = fig["decision"]
            others = f"{dec['others_written']}/{dec['others']}" if dec["others"] else "-"
            print(
                f"{name:<22}{key:<12}{fmt(fig['f1_all']):>8}{fmt(fig['f1_written']):>8}"
                f"{fig['dropped']:>5}/{fig['articles']:<4}{fmt(fig['dropped_rate'], 3):>3}"
                f"{fig['title_exact']:>5}/{fig['titles']:<4}{fmt(fig['title_rate']):>6}"
                f"{fig['date_right']:>5}/{fig['dates']:<4}{fmt(fig['date_rate']):>6}"
                f"{others:>10} {fmt(dec['others_written_rate'], 2):>4}"
                f"{fmt(fig['speed']['cpu_ms_per_page'], 1):>8}"
            )
    print("\nThe article decision by page type (newsbeam): written / refused by error type")
    for name, entry in report.items():
        if not name.startswith("newsbeam"):
            continue
        for key, fig in entry.items():
            if "/" in key and not key.startswith("aeb"):
                cells = "; ".join(
                    f"{t} {c.get('written', 0)}/{sum(c.values())}"
                    + "".join(f" {k}={v}" for k, v in sorted(c.items()) if k != "written")
                    for t, c in fig["decision"]["by_type"].items()
                )
                print(f"{name:<22}{key:<12}{cells}")
    print("\nCPU / wall ms per page, all pages")
    for name, entry in report.items():
        speed = entry["speed_all_pages"]
        print(
            f"{name:<22}{fmt(speed['cpu_ms_per_page'], 1)} / {fmt(speed['wall_ms_per_page'], 1)}"
            f"  ({speed['pages_timed']} pages, {entry['errors']} errors)"
        )


def show_misses(run: Run, items: Sequence[Item]) -> None:
    for item in items:
        if item.split != "dev":
            continue
        result = run.results[(item.source, item.page_id)]
        tag = f"{item.source}:{item.page_id[:10]}"
        if item.is_article and not written(result):
            print(f"DROPPED {tag} {item.url} -- {result.refusal if result else 'error'}")
        elif not item.is_article and written(result):
            print(f"WRITTEN {tag} {item.page_type} {item.url}")
        if not item.is_article or not written(result) or result is None:
            continue
        if item.title and fold_title(result.title) != fold_title(item.title):
            print(f"TITLE   {tag} got {result.title!r} want {item.title!r}")
        if item.date and (result.published is None or result.published.date() != item.date):
            got = result.published.date() if result.published else None
            print(f"DATE    {tag} got {got} want {item.date} {item.url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated subset of {','.join(SETS)}")
    parser.add_argument("--split", choices=GROUPS, default="all", help="pages to run (default all)")
    parser.add_argument("--peers", default="newsbeam", help=f"comma-separated subset of {','.join(PEERS)}")
    parser.add_argument(
        "--baseline", metavar="REV", help="also run transforms/extract.py as at this git revision"
    )
    parser.add_argument(
        "--every", type=int, default=1, metavar="K", help="run every K-th page only (timing runs)"
    )
    parser.add_argument("--show-misses", action="store_true", help="list newsbeam's misses on dev pages")
    parser.add_argument("--json", help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    if unknown := [s for s in sets if s not in SETS]:
        parser.error(f"unknown sets {unknown}")
    present = {"aeb": aeb.data_present(), "wcxb": wcxb.data_present()}
    if not all(present[s] for s in sets):
        print(f"absent under ../shared/data: {[s for s in sets if not present[s]]}", file=sys.stderr)
        return 2
    items = [i for i in load_items(sets) if args.split in ("all", i.split)][:: max(1, args.every)]
    names = [n for n in args.peers.split(",") if n]
    peers: dict[str, Callable[[bytes, str], PeerResult]] = dict(available_peers(names))
    for missing, reason in unavailable_reasons().items() if any(n not in IN_PROCESS for n in names) else ():
        if missing in names:
            print(f"skipped {missing}: {reason}", file=sys.stderr)
    if args.baseline:
        peers[f"newsbeam@{args.baseline}"] = baseline_peer(args.baseline)
    peers.setdefault(REFERENCE, PEERS[REFERENCE])
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        runs = run_peers(peers, items)
    finally:
        close_worker()
    meta = {
        "sizes": dict(Counter(f"{i.source}/{i.split}" for i in items)),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "seconds": time.perf_counter() - started,
    }
    report = figures(runs, items, sets)
    print_report(report, meta)
    if args.show_misses and "newsbeam" in runs:
        show_misses(runs["newsbeam"], items)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"meta": meta, "extractors": report}, out, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
