"""Story clustering on ECB+ run through the pipeline (``AssignStories``), thresholds held out by topic.

Writes the ECB+ dev articles as a backfill file (the ``--input-jsonl`` contract: title = first
sentence, text = the whole article including that sentence, since 23 articles have no other line
and NER then sees the title as in ``story_quality``; deterministic synthetic first-seen/published
times over three days, ``story_quality.synthetic_time``), runs them through
the pipeline and scores the ``story_id`` column. Protocol (that of ``benchmarks/story_quality.py``,
restricted to best-member linkage, the only one the stage has):

1. one run over all articles with the default settings, only to get the pipeline's own text and
   entities (the stage's output on it is compared with the pure loop, never scored for selection);
2. on that stream, 3 folds over topics: settings (weights, threshold) are chosen on two folds'
   topics by the pure loop, as in ``story_quality.cross_validate``;
3. each fold's held-out topics are run through the pipeline with that fold's settings; the three
   held-out clusterings are pooled and scored. The pure ``stories.assign`` loop over the very same
   articles and settings is scored beside it: the stage resolves each article's best-member link
   to the root of its chain by pointer jumping (``resolve_rounds``), so the two should agree up to
   chains longer than ``2**resolve_rounds`` links.

Runs ``newsbeam run --input-jsonl ... --config ...`` once ``AssignStories`` is wired into
``pipelines/ingest.py`` (``--via cli``); until then (``--via beam``) the same stages in a small
Beam pipeline: ReadBackfill → ExtractArticles → IdentifyLanguage → TagEntities → AssignStories.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from benchmarks import story_quality as sq
from transforms import story_similarity as stories
from transforms.story_similarity import StorySettings

ROOT = Path(__file__).resolve().parents[1]
INGEST = ROOT / "pipelines" / "ingest.py"
STORY_KEYS = (
    "threshold",
    "text_weight",
    "entity_weight",
    "time_weight",
    "conflict_weight",
    "number_weight",
    "date_weight",
    "time_scale_hours",
    "window_hours",
    "blocking_terms",
    "blocking_entities",
    "resolve_rounds",
)


@dataclass(frozen=True)
class OutRow:
    """One article as the pipeline wrote it."""

    article_id: str
    url: str
    title: str
    text: str
    seen_at: str
    story_id: str
    story_score: float | None
    entities: list[tuple[str, str, int]]


def doc_url(doc: sq.Doc) -> str:
    return f"https://ecbplus.example/{doc.topic}/{doc.doc_id}"


def write_backfill(docs: Sequence[sq.Doc], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for d in docs:
            when = d.seen_at.isoformat()
            line = {
                "url": doc_url(d),
                "publisher": f"ECB+ topic {d.topic}",
                "published_at": when,
                "first_seen_at": when,
                "title": d.title,
                "text": f"{d.title}\n{d.text}".strip(),  # the whole article: some have one line
                "language": "en",
            }
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


def write_config(settings: StorySettings, path: Path) -> None:
    config = {
        "extract": {"min_words": 0},  # some ECB+ articles are a few lines long
        "write": {"batch_size": 1000, "max_buffering_s": 30},
        "stories": {"enabled": True, **{k: getattr(settings, k) for k in STORY_KEYS}},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def run_cli(jsonl: Path, config: Path, out: Path) -> list[OutRow]:
    """``newsbeam run`` (needs AssignStories wired in pipelines/ingest.py), Parquet read back."""
    import pyarrow.dataset as ds

    cmd = [str(ROOT / ".venv" / "bin" / "newsbeam"), "run", "--input-jsonl", str(jsonl), "--output", str(out)]
    subprocess.run([*cmd, "--config", str(config)], check=True, capture_output=True, cwd=ROOT)
    table = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table()
    rows = []
    for r in table.to_pylist():
        ents = [(e["key"], e["label"], e["count"]) for e in r["entities"] or []]
        seen = r["first_seen_at"].isoformat()
        rows.append(
            OutRow(
                r["article_id"], r["url"], r["title"], r["text"], seen, r["story_id"], r["story_score"], ents
            )
        )
    return rows


def run_beam(jsonl: Path, config: Path, out: Path) -> list[OutRow]:
    """The stages the ingest graph will run, in a small Beam pipeline writing JSON lines."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.config import load_config
    from transforms.backfill import ReadBackfill
    from transforms.entities import TagEntities
    from transforms.extract import ExtractArticles
    from transforms.language import IdentifyLanguage

    cfg = load_config(config)

    def row(a: object) -> str:
        from transforms.records import Article

        assert isinstance(a, Article)
        ents = [(e.key, e.label, e.count) for e in a.entities or ()]
        return json.dumps(
            [
                a.article_id,
                a.url,
                a.title,
                a.text,
                a.first_seen_at.isoformat(),
                a.story_id,
                a.story_score,
                ents,
            ]
        )

    with beam.Pipeline(options=PipelineOptions(runner="FnApiRunner")) as p:
        pages = (p | "Read backfill" >> ReadBackfill(str(jsonl))).records
        articles = (pages | "Extract articles" >> ExtractArticles(cfg.extract_settings())).articles
        articles = articles | "Identify language" >> IdentifyLanguage(cfg.language_settings())
        tagged = (articles | "Tag entities" >> TagEntities(cfg.entity_settings())).articles
        _ = (
            tagged
            | "Assign stories" >> stories.AssignStories(cfg.story_settings())
            | "Rows" >> beam.Map(row)
            | "Write" >> beam.io.WriteToText(str(out / "part"))
        )
    rows = []
    for path in sorted(out.glob("part*")):
        for line in path.read_text(encoding="utf-8").splitlines():
            aid, url, title, text, seen, sid, score, ents = json.loads(line)
            rows.append(OutRow(aid, url, title, text, seen, sid, score, [tuple(e) for e in ents]))
    return rows


def run_pipeline(
    docs: Sequence[sq.Doc], settings: StorySettings, work: Path, name: str, via: str
) -> tuple[list[OutRow], float]:
    jsonl, config, out = work / f"{name}.jsonl", work / f"{name}.yaml", work / f"out-{name}"
    write_backfill(docs, jsonl)
    write_config(settings, config)
    started = time.perf_counter()
    rows = (run_cli if via == "cli" else run_beam)(jsonl, config, out)
    return rows, time.perf_counter() - started


def stream_from_rows(
    rows: Sequence[OutRow], docs_by_url: Mapping[str, sq.Doc], s: StorySettings
) -> tuple[sq.Stream, dict[str, int]]:
    """The pure loop's input from the pipeline's own articles (same text, entities, times, order:
    ``(first_seen_at, article_id)``); returns the stream and article_id -> stream index."""
    from datetime import datetime

    docs, ents = [], []
    for r in rows:
        gold = docs_by_url[r.url]
        docs.append(
            replace(
                gold,
                doc_id=r.article_id,
                title=r.title,
                text=r.text,
                seen_at=datetime.fromisoformat(r.seen_at),
            )
        )
        ents.append(r.entities)
    stream = sq.build_stream(docs, ents, s)
    return stream, {d.doc_id: i for i, d in enumerate(stream.docs)}


def as_ids(stream: sq.Stream, story: Mapping[int, int]) -> dict[int, str]:
    """The pure loop's story (root index) as the root's article id, as the stage names it."""
    return {i: stream.docs[root].doc_id for i, root in story.items()}


def split_stats(pure: Mapping[int, str], stage: Mapping[int, str]) -> dict[str, float]:
    """How the stage's clustering departs from the pure loop's on the same articles."""
    pure_groups: dict[object, set[int]] = defaultdict(set)
    for i, sid in pure.items():
        pure_groups[sid].add(i)
    split = sum(1 for members in pure_groups.values() if len({stage[i] for i in members}) > 1)
    together = Counter((pure[i], stage[i]) for i in pure)
    pure_pairs = sum(sq._pairs(len(m)) for m in pure_groups.values())
    kept_pairs = sum(sq._pairs(n) for n in together.values())
    stage_sizes = Counter(stage.values())
    return {
        "pure_stories": float(len(pure_groups)),
        "stage_stories": float(len(stage_sizes)),
        "pure_stories_split": float(split),
        "pure_pairs_kept": kept_pairs / pure_pairs if pure_pairs else 1.0,
        "stage_pairs_not_in_pure": float(sum(sq._pairs(n) for n in stage_sizes.values()) - kept_pairs),
        "articles_with_other_story_id": float(sum(1 for i in pure if pure[i] != stage[i])),
    }


def resolve_state_bytes(rows: Sequence[OutRow], rounds: int) -> dict[str, float]:
    """Bytes of the resolve rounds' state per article: one encoded record per round (the article
    and its pointer's target, here its story root; key strings and runner overhead not counted)."""
    from datetime import datetime

    sizes = []
    for r in rows:
        ts = datetime.fromisoformat(r.seen_at).timestamp()
        record = (stories.RECORD, (r.article_id, ts, r.story_id, ts, True))
        sizes.append(len(stories.RESOLVE_ITEM_CODER.encode(record)))
    sizes.sort()
    return {
        "record_mean": sum(sizes) / len(sizes),
        "record_p95": float(sizes[int(0.95 * (len(sizes) - 1))]),
        "per_article_mean": rounds * sum(sizes) / len(sizes),
        "rounds": float(rounds),
    }


def seed_through_stage(s: StorySettings) -> dict[str, object]:
    """The seed pair's similarity and margin with ``s`` (frozen NER of the fixture)."""
    from datetime import datetime

    fixture = json.loads((ROOT / "tests" / "fixtures" / "stories" / "seed_page.json").read_text())
    f = {
        a["name"]: stories.story_features(
            a["title"],
            a["text"],
            datetime.fromisoformat(a["published_at"]),
            [tuple(e) for e in a["entities"]],
            s,
        )
        for a in fixture["articles"]
    }
    pair = stories.similarity(f["firstpost"], f["toi"], s)
    unrelated = {
        f"{a}~{b}": stories.similarity(f[a], f[b], s) for a in ("toi", "firstpost") for b in ("putin", "g7")
    }
    return {
        "toi~firstpost": pair,
        **unrelated,
        "margin": pair - max(unrelated.values()),
        "threshold": s.threshold,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=sq.DOCS)
    parser.add_argument("--schedule", choices=["uniform", "events", "same-onset"], default="uniform")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--via", choices=["auto", "cli", "beam"], default="auto")
    parser.add_argument("--hn-limit", type=float, default=sq.HN_LIMIT)
    parser.add_argument("--work", type=Path, help="keep the backfill files, configs and outputs here")
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args(argv)
    if not args.docs.exists():
        print(f"needs {args.docs} (../shared)", file=sys.stderr)
        return 2
    via = args.via
    if via == "auto":
        via = "cli" if "AssignStories" in INGEST.read_text(encoding="utf-8") else "beam"
    work = args.work or Path(tempfile.mkdtemp(prefix="newsbeam-story-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    base = StorySettings()
    docs = sq.load_docs(args.docs, args.schedule)
    by_url = {doc_url(d): d for d in docs}
    print(
        f"ECB+ dev through the pipeline ({via}): {len(docs)} articles, schedule {args.schedule}; "
        f"{args.folds}-fold leave-topics-out, best-member linkage, hard-negative limit {args.hn_limit:.0%}"
    )

    # 1. the pipeline's own articles and entities (default settings)
    rows, secs = run_pipeline(docs, base, work, "all-defaults", via)
    assert len(rows) == len(docs), f"{len(docs) - len(rows)} articles lost in the pipeline"
    stream, index = stream_from_rows(rows, by_url, base)
    url_of = {r.article_id: r.url for r in rows}
    everyone = list(range(len(stream.docs)))
    pure_all = as_ids(stream, sq.run_assign(stream, everyone, base))
    stage_all = {index[r.article_id]: r.story_id for r in rows}
    report: dict[str, object] = {"schedule": args.schedule, "via": via, "articles": len(docs)}
    report["defaults_all_topics"] = {
        "stage": sq.metrics(stream, stage_all),
        "pure": sq.metrics(stream, pure_all),
        "split": split_stats(pure_all, stage_all),
        "seconds": secs,
    }
    print(f"\nrun 1, default settings, all topics (not a held-out result; {secs:.0f} s):")
    print(f"  stage {sq._fmt(sq.metrics(stream, stage_all))}")
    print(f"  pure  {sq._fmt(sq.metrics(stream, pure_all))}")
    print(f"  stage vs pure: {split_stats(pure_all, stage_all)}")
    resolve = resolve_state_bytes(rows, base.resolve_rounds)
    report["resolve_state_bytes"] = resolve
    print(f"  resolve rounds state: {resolve}")

    # 2-3. per fold: choose on training topics (pure loop), run the held-out topics through the stage
    grid = sq.FULL if args.schedule != "uniform" else sq.NO_TIME
    grid = replace(grid, linkages=("max",))
    topics = sorted({d.topic for d in stream.docs})
    fold_of = {t: k % args.folds for k, t in enumerate(topics)}
    pooled_stage: dict[int, str] = {}
    pooled_pure: dict[int, str] = {}
    folds = []
    for k in range(args.folds):
        train = [i for i, d in enumerate(stream.docs) if fold_of[d.topic] != k]
        test = [i for i, d in enumerate(stream.docs) if fold_of[d.topic] == k]
        chosen, _ = sq.select(stream, train, grid, base, args.hn_limit)
        held_docs = [by_url[url_of[stream.docs[i].doc_id]] for i in test]
        fold_rows, secs = run_pipeline(held_docs, chosen, work, f"fold{k}", via)
        assert len(fold_rows) == len(test)
        stage = {index[r.article_id]: r.story_id for r in fold_rows}
        pure = as_ids(stream, sq.run_assign(stream, test, chosen))
        pooled_stage.update({i: f"{k}:{sid}" for i, sid in stage.items()})
        pooled_pure.update({i: f"{k}:{sid}" for i, sid in pure.items()})
        folds.append(
            {
                "fold": k,
                "settings": vars(chosen),
                "stage": sq.metrics(stream, stage),
                "pure": sq.metrics(stream, pure),
                "split": split_stats(pure, stage),
                "seconds": secs,
            }
        )
        print(f"\nfold {k}: {sq._settings_str(chosen)} ({secs:.0f} s)")
        print(f"  stage held-out {sq._fmt(sq.metrics(stream, stage))}")
        print(f"  pure  held-out {sq._fmt(sq.metrics(stream, pure))}")
    stage_m, pure_m = sq.metrics(stream, pooled_stage), sq.metrics(stream, pooled_pure)
    split = split_stats(pooled_pure, pooled_stage)
    report["held_out"] = {"stage": stage_m, "pure": pure_m, "split": split, "folds": folds}
    print("\nheld-out, pooled over folds:")
    print(f"  stage (AssignStories) {sq._fmt(stage_m)}")
    print(f"  pure stories.assign   {sq._fmt(pure_m)}")
    print(f"  stage vs pure: {split}")
    seed = seed_through_stage(base)
    report["seed_defaults"] = seed
    print("seed page, StorySettings defaults: " + ", ".join(f"{k} {v:.3f}" for k, v in seed.items()))
    print(f"\n{time.perf_counter() - started:.0f} s; files in {work}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
