"""Story quality through the pipeline: ``newsbeam run --input-jsonl`` on the held-out parts.

    .venv/bin/python -m benchmarks.story_pipeline                  # both sets, held-out parts
    .venv/bin/python -m benchmarks.story_pipeline --dataset gva    # one of them
    .venv/bin/python -m benchmarks.story_pipeline --part dev       # the training parts instead

For each story set (``benchmarks/story_data.py``: ECB+ held-out topics with both sub-events of a
topic in one 36-hour window; GVA articles from 2015-07-01 on, real publication days) the
held-out articles are written as a backfill file and run through the CLI with the job config's
``stories`` section at its defaults (``extract.min_words: 0`` so that every article is kept);
the ``story_id`` column of the Parquet output is scored (pairwise P/R/F1, B-cubed F1, ECB+
hard-negative pairs merged). Beside it, the pure reference of the story model
(``story_model.reference_assign`` + ``story_roots``) over the very articles the pipeline wrote
(its title, text, times and entities) is scored, and the two clusterings are compared: once the
keyed stage runs the model, they must agree article for article.

Whatever story stage ``pipelines/ingest.py`` wires in is what runs: the command is the same
before and after the stage is replaced.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks import story_data as sd
from benchmarks import story_eval as se
from transforms import story_model as sm
from transforms.keyed import Stored
from transforms.stories import state_bytes as story_state_bytes


def agreement(a: Mapping[str, str], b: Mapping[str, str]) -> dict[str, float]:
    """How far two clusterings of the same articles (article -> story id) differ."""
    together = Counter((a[i], b[i]) for i in a)
    sizes_a, sizes_b = Counter(a.values()), Counter(b.values())
    pairs_a = sum(n * (n - 1) // 2 for n in sizes_a.values())
    pairs_b = sum(n * (n - 1) // 2 for n in sizes_b.values())
    shared = sum(n * (n - 1) // 2 for n in together.values())
    return {
        "stories_a": float(len(sizes_a)),
        "stories_b": float(len(sizes_b)),
        "pairs_only_in_a": float(pairs_a - shared),
        "pairs_only_in_b": float(pairs_b - shared),
        "identical": float(pairs_a == pairs_b == shared),
    }


def run(dataset: str, part: str, work: Path, stories: dict[str, object]) -> dict[str, object]:
    docs = [d for d in sd.load(dataset) if (d.split == "heldout") == (part == "heldout")]
    config = sd.job_config(stories, near_duplicates=True)
    started = time.perf_counter()
    rows = sd.run_pipeline(sd.backfill_lines(docs), config, work / f"{dataset}-{part}")
    seconds = time.perf_counter() - started
    stage_story = {str(r["url"]): str(r["story_id"]) for r in rows}
    written = sd.match_rows(docs, [sd.row_json(r) for r in rows])
    gold = [p.doc.story for p in written]
    groups = [p.doc.group for p in written]
    stage = se.metrics(gold, groups, [stage_story[p.doc.url] for p in written])
    settings = sm.StoryModelSettings()
    vectors = [
        (p.article.article_id, v.ts, v) for p in written for v in [sm.story_vector(p.article, settings)]
    ]
    roots = sm.story_roots(sm.reference_assign(vectors, settings))
    pure_story = {p.article.article_id: roots[p.article.article_id] for p in written}
    stage_by_id = {p.article.article_id: stage_story[p.doc.url] for p in written}
    pure = se.metrics(gold, groups, [pure_story[p.article.article_id] for p in written])
    stored = [  # what the stage keeps per article: its vector under each of its blocking keys
        story_state_bytes(
            [
                ("", Stored(a, round(ts * 1e6), k.encode(), v.to_bytes()))
                for k in sm.blocking_keys(v, settings)
            ]
        )
        for a, ts, v in vectors
    ]
    return {
        "dataset": dataset,
        "part": part,
        "articles": len(written),
        "seconds": seconds,
        "stage": stage,
        "pure_reference": pure,
        "stage_vs_pure": agreement(stage_by_id, pure_story),
        "state_bytes_per_article": statistics.fmean(stored) if stored else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*sd.DATASETS, "both"], default="both")
    parser.add_argument("--part", choices=["heldout", "dev"], default="heldout")
    parser.add_argument(
        "--stories",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a key of the job config's stories section (YAML value), e.g. threshold=0.5; default: none",
    )
    parser.add_argument("--work", type=Path, help="keep the backfill files, configs and outputs here")
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args(argv)
    if missing := sd.missing_data():
        print(missing, file=sys.stderr)
        return 2
    import yaml

    stories: dict[str, object] = {}
    for item in args.stories:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--stories takes KEY=VALUE, not {item!r}")
        stories[key] = yaml.safe_load(value)
    work = args.work or Path(tempfile.mkdtemp(prefix="newsbeam-story-pipeline-"))
    datasets = sd.DATASETS if args.dataset == "both" else (args.dataset,)
    results = []
    for ds in datasets:
        result = run(ds, args.part, work, stories)
        results.append(result)
        print(
            f"\n{ds}, {args.part} part, {result['articles']} articles through newsbeam run ({result['seconds']:.0f} s):"
        )
        print(f"  pipeline (story_id)        {se.fmt(result['stage'])}")  # type: ignore[arg-type]
        print(f"  story_model pure reference {se.fmt(result['pure_reference'])}")  # type: ignore[arg-type]
        print(f"  pipeline vs pure reference: {result['stage_vs_pure']}")
        print(
            f"  stage state per article (its entries under its blocking keys): {result['state_bytes_per_article']:.0f} B"
        )
    print(f"\nfiles in {work}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
