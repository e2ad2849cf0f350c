"""What the rule layer changes on real news article bodies, before/after, with examples to check.

    .venv/bin/python -m benchmarks.entity_rules_news [--model NAME] [--examples 40] [--seed 1]

Texts: the article bodies of ../shared/data/extraction-aeb and the seed page
(../shared/seed/aggregator-page.txt) that ``IdentifyLanguage``'s detector finds English (the
stage tags only those with the English model).  Each article is tagged once by the stage's functions
(``tag_texts`` over its chunks), and its entities are built with and without the rules
(``article_entities``).  Counted over all articles: mentions whose label the rules changed, by
change; distinct names (keys) that carry more than one label within one article; PERSON entries
whose key was folded into a longer name.  Then ``--examples`` changes drawn at random (seeded), each
with its article's words around it, for a reader to judge — the figures in benchmarks/README.md
come from such a hand check.  No labelled news data is involved: this is a description and a
sample, not a score.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

from benchmarks.entities_speed import DATA, load_texts
from transforms.entities import (
    DEFAULT_LABELS,
    DEFAULT_MODELS,
    article_entities,
    entity_key,
    load_pipeline,
    tag_texts,
    text_chunks,
)
from transforms.entity_rules import Mention, apply_rules, load_rule_settings
from transforms.language import Detector, detection_sample
from transforms.records import Entity

SEED = Path(__file__).resolve().parents[1] / ".." / "shared" / "seed" / "aggregator-page.txt"


def conflicts(entities: tuple[Entity, ...]) -> int:
    """Keys of one article that carry more than one label."""
    labels: dict[str, set[str]] = {}
    for entity in entities:
        labels.setdefault(entity.key, set()).add(entity.label)
    return sum(1 for found in labels.values() if len(found) > 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=dict(DEFAULT_MODELS)["en"])
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not (DATA / "ground-truth.json").exists():
        print(f"no texts at {DATA} (they live in ../shared/data, see its README)", file=sys.stderr)
        return 2
    detector = Detector()
    texts = [
        text
        for text in [*load_texts(DATA / "ground-truth.json"), SEED.read_text(encoding="utf-8")]
        if (found := detector.detect(detection_sample(None, text))) and found.language == "en"
    ]
    nlp = load_pipeline(args.model)
    rules = load_rule_settings()
    changes: Counter[tuple[str, str]] = Counter()
    examples: list[tuple[str, str, str, str]] = []
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    folds: list[str] = []
    for text in texts:
        mentions: list[Mention] = [
            m for chunk in tag_texts(nlp, text_chunks(text, 100_000), 32) for m in chunk
        ]
        labels = [m.label for m in apply_rules(mentions, rules)]
        for mention, label in zip(mentions, labels, strict=True):
            if label != mention.label:
                changes[mention.label, label] += 1
                examples.append(
                    (mention.text, mention.label, label, f"{mention.before} [{mention.text}] {mention.after}")
                )
        raw = article_entities(mentions, DEFAULT_LABELS, None)
        ruled = article_entities(mentions, DEFAULT_LABELS, rules)
        before.update(entries=len(raw), keys=len({e.key for e in raw}), conflicts=conflicts(raw))
        after.update(
            entries=len(ruled),
            keys=len({e.key for e in ruled}),
            conflicts=conflicts(ruled),
            folded=sum(1 for e in ruled if e.key != entity_key(e.text)),
        )
        folds.extend(f"{e.text} -> {e.key}" for e in ruled if e.key != entity_key(e.text))
    print(f"{len(texts)} articles, model {args.model}")
    print(f"mentions relabelled by the rules: {changes.total()}")
    for (old, new), count in changes.most_common():
        print(f"  {old:>12} -> {new:<8} {count}")
    print(f"entity entries per article, summed: {before['entries']} -> {after['entries']}")
    print(f"distinct keys, summed over articles: {before['keys']} -> {after['keys']}")
    print(f"keys with more than one label in an article: {before['conflicts']} -> {after['conflicts']}")
    print(f"PERSON entries keyed to a longer name: {after['folded']}")
    rng = random.Random(args.seed)
    print(f"  e.g. {'; '.join(rng.sample(folds, min(12, len(folds))))}")
    print(f"\n{min(args.examples, len(examples))} changes drawn at random (seed {args.seed}):")
    for text, old, new, context in rng.sample(examples, min(args.examples, len(examples))):
        print(f"  {old:>12} -> {new:<6} {text!r:<28} {context[:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
