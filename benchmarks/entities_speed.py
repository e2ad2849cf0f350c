"""TagEntities inside a pipeline versus a plain ``nlp.pipe`` loop over the same texts.

    .venv/bin/python benchmarks/entities_speed.py [--model NAME] [--runner DirectRunner] [--rounds 2]

Texts: the hand-annotated article bodies of ../shared/data/extraction-aeb (181 real news pages),
i.e. what TagEntities sees after extraction.  In one process, alternating ``--rounds`` times:

- loop: ``load_pipeline`` (NER only, as the stage loads it), then a plain ``nlp.pipe`` over the
  same chunks with the stage's batch size, collecting ``(text, label)`` of ``doc.ents`` — no
  rule layer, no records;
- pipeline: ``Create(articles) | TagEntities | count`` on the chosen runner, with the rule layer
  on (the default), timed from ``run()`` to the end of ``wait_until_finish()`` — so graph
  submission, worker start-up, the model and gazetteer loads and the rules are charged to the
  pipeline, not left out.

Reports words/s of each (best round), their ratio (target ≥ 0.85), the loop's words per CPU
second (the per-core rate), and the peak RSS of a fresh worker process that imports Beam, loads
the model and the gazetteer and tags the same texts through ``tag_articles`` (run in a child).
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

from transforms.entities import DEFAULT_MODELS, EntitySettings, TagEntities, load_pipeline, text_chunks
from transforms.records import Article

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "extraction-aeb"
MODEL = dict(DEFAULT_MODELS)["en"]


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


def run_loop(texts: list[str], settings: EntitySettings, model: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and entity spans of a plain ``nlp.pipe`` loop, model load included."""
    started, cpu = time.perf_counter(), time.process_time()
    nlp = load_pipeline(model)
    chunks = [chunk for text in texts for chunk in text_chunks(text, settings.max_chars)]
    spans = [
        [(ent.text, ent.label_) for ent in doc.ents]
        for doc in nlp.pipe(chunks, batch_size=settings.batch_size)
    ]
    return time.perf_counter() - started, time.process_time() - cpu, sum(len(found) for found in spans)


def run_pipeline(texts: list[str], settings: EntitySettings, runner: str) -> tuple[float, float]:
    """Wall and CPU seconds of this process (the DirectRunner's FnApiRunner runs the workers in
    it) from ``run()`` to the end of ``wait_until_finish()``."""
    articles = [as_article(index, text) for index, text in enumerate(texts)]
    options = PipelineOptions([f"--runner={runner}"])
    pipeline = beam.Pipeline(options=options)
    _ = (
        pipeline | "Articles" >> beam.Create(articles) | "Tag" >> TagEntities(settings)
    ).articles | "Count" >> beam.Map(lambda a: len(a.entities or ()))
    started, cpu = time.perf_counter(), time.process_time()
    pipeline.run().wait_until_finish()
    return time.perf_counter() - started, time.process_time() - cpu


def peak_rss_kib() -> int:
    """This process's peak RSS (KiB) since its last exec: VmHWM.  (``ru_maxrss`` would also count
    the parent's memory at fork time, which a child started by a large parent inherits.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


WORKER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
import apache_beam
from benchmarks.entities_speed import as_article, load_texts, peak_rss_kib
from transforms.entities import EntitySettings, load_pipeline, tag_articles
from transforms.entity_rules import load_rule_settings
texts = load_texts(Path(sys.argv[1]))
articles = [as_article(i, t) for i, t in enumerate(texts)]
before = peak_rss_kib()
nlp, rules = load_pipeline(sys.argv[2]), load_rule_settings()
loaded = peak_rss_kib()
for start in range(0, len(articles), 32):
    tag_articles(articles[start : start + 32], nlp, EntitySettings(), datetime.now(UTC), rules)
print(before, loaded, peak_rss_kib())
"""


def worker_memory(path: Path, model: str) -> tuple[int, int, int]:
    """Peak RSS (KiB) of a fresh process that imports Beam and reads the texts; then after it
    loads the model and the rules; then after it tags the texts in batches of 32 articles."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(path), model], capture_output=True, text=True, check=True, cwd=root
    )
    before, loaded, tagged = out.stdout.strip().splitlines()[-1].split()
    return int(before), int(loaded), int(tagged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA / "ground-truth.json")
    parser.add_argument("--model", default=MODEL, help=f"spaCy pipeline (default {MODEL})")
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
    settings = EntitySettings(models=(("en", args.model),), batch_size=args.batch_size)
    print(
        f"{len(texts)} texts, {words:,} words; model {args.model}; runner {args.runner}; "
        f"batch size {args.batch_size}"
    )
    loops, cpus, pipelines, pipeline_cpus = [], [], [], []
    for round_ in range(1, args.rounds + 1):
        loop_s, cpu_s, entities = run_loop(texts, settings, args.model)
        loops.append(loop_s)
        cpus.append(cpu_s)
        pipe_s, pipe_cpu_s = run_pipeline(texts, settings, args.runner)
        pipelines.append(pipe_s)
        pipeline_cpus.append(pipe_cpu_s)
        print(
            f"  round {round_}: loop {loop_s:.2f} s ({cpu_s:.2f} s CPU, {entities} entity spans), "
            f"pipeline {pipe_s:.2f} s ({pipe_cpu_s:.2f} s CPU)"
        )
    loop_rate, pipe_rate = words / min(loops), words / min(pipelines)
    print(f"plain nlp.pipe loop   {loop_rate:>9,.0f} words/s  (best of {args.rounds}, model load included)")
    print(f"  per CPU second      {words / min(cpus):>9,.0f} words  (the loop's per-core rate)")
    print(f"TagEntities pipeline  {pipe_rate:>9,.0f} words/s  (best of {args.rounds}, run() to finish)")
    print(f"ratio pipeline/loop   {pipe_rate / loop_rate:>9.2f}   (target >= 0.85)")
    print(
        f"ratio by CPU seconds  {min(cpus) / min(pipeline_cpus):>9.2f}   "
        "(this process's CPU time: less sensitive to other load on the machine)"
    )
    print(f"peak RSS, this process: {peak_rss_kib() / 1024:.0f} MiB")
    before, loaded, tagged = worker_memory(args.data, args.model)
    print(
        f"peak RSS of a fresh worker: {before / 1024:.0f} MiB with Beam and the texts, "
        f"{loaded / 1024:.0f} MiB with the model and rules loaded, {tagged / 1024:.0f} MiB after tagging"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
