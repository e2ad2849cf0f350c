"""Near-duplicate quality and cost of ``transforms.neardup`` on syndication variants of ECB+ texts.

Each ECB+ text (``../shared/data/stories-ecbplus-dev/docs.jsonl``) is a base article; variants
are made the way outlets republish wire copy (a new headline line on top, trimmed paragraphs,
heavily trimmed briefs, added paragraphs, boilerplate lines, whitespace/punctuation noise, and
copies of copies).  The other ECB+ texts, several on the same topic, are the true negatives.

Gold: brute-force exact shingle Jaccard/containment of every pair with the same confirm rule.
Predicted: pairs sharing an LSH band key (or the exact-copy key) and confirmed by the stage's
rule: on the b-bit MinHash estimates when they are clear of the thresholds, else exactly on the
shingle fingerprints, i.e. what ``MarkNearDuplicates`` decides.

Topics are split in two: ``--tune`` prints the bands x rows grid on every other ECB+ topic (how\nthe defaults of ``NearDupSettings`` were chosen); the default run reports on the other topics only.
Then ``MarkNearDuplicates`` runs in a pipeline over all articles and is compared, article by
article and in time, with the same computation in a plain Python loop.

    .venv/bin/python -m benchmarks.neardup_quality [--tune] [--variants 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.window import TimestampedValue

from samples.texts import ecb_text
from transforms.extract import content_hash
from transforms.minhash import exact_pair_similarity, fingerprint_similarity, shingle_words, shingles
from transforms.neardup import (
    ACCEPT,
    EXACT_PREFIX,
    VERIFY_PAIR,
    MarkNearDuplicates,
    NearDupSettings,
    Signer,
    confirm,
    pair_verdict,
    reference_marks,
    state_bytes,
)
from transforms.records import Article

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT.parent / "shared" / "data" / "stories-ecbplus-dev" / "docs.jsonl"
START = datetime(2025, 6, 16, tzinfo=UTC)
SPREAD_HOURS = 72
TUNE = "tuning half (topics 1st, 3rd, 5th, ... in order)"
REPORT = "reported half (the other topics)"
GRID = ((32, 4), (37, 3), (42, 3), (32, 2), (40, 2), (50, 2), (64, 2))
MARGINS = (0.0, 0.15)
BITS = (8,)
MARGIN = 0.05

BOILERPLATE = (
    "Advertisement",
    "Share this article: Facebook Twitter Email",
    "Follow us on Twitter for the latest news.",
    "Copyright 2013 The Associated Press. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed.",
    "Sign up for our daily newsletter to get the top stories in your inbox.",
    "Related coverage: more on this story from our correspondents.",
    "Reporting by staff writers; editing by the news desk.",
)
EDITOR_NOTES = (
    "This story has been updated to include additional details from officials.",
    "Correction: an earlier version of this article misstated the time of the announcement.",
    "Our correspondent contributed to this report from the scene, where crowds gathered "
    "throughout the afternoon as officials briefed reporters about what happened next.",
)


@dataclass(frozen=True)
class Doc:
    doc_id: str
    topic: int
    base: str  # the ECB+ doc it derives from
    kind: str  # "base" or the variant operations, e.g. "trim+noise"
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


# ----------------------------------------------------------------------------------------------
# Corpus


def load_bases(path: Path, rng: random.Random) -> list[Doc]:
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    out = []
    for row in sorted(rows, key=lambda r: str(r["doc"])):
        text = ecb_text(row["doc"], row["text"], row["cluster"], rng)
        if text is None or text.words < 50:
            continue
        out.append(Doc(row["doc"], int(row["topic"]), row["doc"], "base", text.paragraphs))
    return out


def _noise(paragraph: str, rng: random.Random) -> str:
    out = paragraph.replace('"', rng.choice(('"', "\u201c", "''")))
    if rng.random() < 0.5:
        out = out.replace(",", "" if rng.random() < 0.5 else " ,")
    if rng.random() < 0.5:
        out = out.replace(" ", "  ", rng.randrange(1, 6))
    if rng.random() < 0.3:
        out = out.replace(" - ", " \u2014 ").replace("'s", "\u2019s")
    return out


def variant(doc: Doc, donor: Doc, rng: random.Random, number: int) -> Doc:
    """One republished copy of ``doc``: 1-3 operations; ``donor`` gives foreign paragraphs."""
    paras = list(doc.paragraphs)
    ops = rng.sample(["headline", "trim", "brief", "add", "boilerplate", "noise"], rng.choice((1, 2, 2, 3)))
    for op in ops:
        if op == "headline":
            paras.insert(0, rng.choice(donor.paragraphs[0].split(". ")[:1]) + " - exclusive report")
        elif op == "trim" and len(paras) > 3:
            del paras[len(paras) - rng.randint(1, min(3, len(paras) - 3)) :]
        elif op == "brief" and len(paras) > 4:
            paras = paras[: max(2, round(len(paras) * rng.uniform(0.35, 0.7)))]
        elif op == "add":
            extra = [rng.choice(EDITOR_NOTES)] if rng.random() < 0.5 else list(donor.paragraphs[-2:])
            at = len(paras) if rng.random() < 0.7 else rng.randrange(len(paras) + 1)
            paras[at:at] = extra
        elif op == "boilerplate":
            for _ in range(rng.randint(1, 3)):
                paras.insert(rng.randrange(len(paras) + 1), rng.choice(BOILERPLATE))
        elif op == "noise":
            paras = [_noise(p, rng) for p in paras]
    return Doc(f"{doc.doc_id}~v{number}", doc.topic, doc.base, "+".join(ops), tuple(paras))


def build_corpus(bases: Sequence[Doc], variants: int, rng: random.Random) -> list[Doc]:
    """Bases, ``variants`` copies of each, and a copy of one copy (a chain) for every third base."""
    docs = list(bases)
    for i, doc in enumerate(bases):
        copies = [variant(doc, rng.choice(bases), rng, n) for n in range(variants)]
        if i % 3 == 0:
            copies.append(variant(copies[0], rng.choice(bases), rng, variants))
        docs += copies
    return docs


def articles_for(docs: Sequence[Doc], rng: random.Random) -> list[Article]:
    """One Article per doc, first seen at a random time within ``SPREAD_HOURS``."""
    out = []
    for doc in docs:
        seen = START + timedelta(seconds=rng.randrange(SPREAD_HOURS * 3600))
        text = doc.text
        out.append(
            Article(
                article_id=doc.doc_id,
                url=f"https://bench.example/{doc.doc_id}",
                canonical_url=f"https://bench.example/{doc.doc_id}",
                feed_url=None,
                publisher=None,
                source_domain="bench.example",
                title=None,
                description=None,
                text=text,
                authors=(),
                tags=(),
                language="en",
                published_at=None,
                date_source="none",
                first_seen_at=seen,
                word_count=len(text.split()),
                content_hash=content_hash(text),
            )
        )
    return out


# ----------------------------------------------------------------------------------------------
# Gold and predicted pairs


Pair = tuple[str, str]


def gold_pairs(articles: Sequence[Article], settings: NearDupSettings) -> dict[Pair, float]:
    """Every pair the confirm rule accepts on exact shingle sets (inverted index, then exact)."""
    sets = {a.article_id: shingles(shingle_words(a.text), settings.shingle_size) for a in articles}
    hashes = {a.article_id: a.content_hash for a in articles}
    postings: dict[str, list[str]] = defaultdict(list)
    for article_id, items in sets.items():
        for item in items:
            postings[item].append(article_id)
    candidates: set[Pair] = set()
    for ids in postings.values():
        candidates.update((a, b) if a < b else (b, a) for a, b in itertools.combinations(ids, 2))
    gold: dict[Pair, float] = {}
    for a, b in candidates:
        if hashes[a] == hashes[b]:
            gold[(a, b)] = 1.0
            continue
        jaccard, containment = exact_pair_similarity(sets[a], sets[b])
        score = confirm(jaccard, containment, settings)
        if score is not None:
            gold[(a, b)] = score
    return gold


@dataclass(frozen=True)
class Predicted:
    confirmed: set[Pair]  # pairs the stage's rule confirms
    candidates: set[Pair]  # pairs sharing a key
    compared: float  # candidate comparisons per article
    checked: float  # exact checks per article (pairs the estimates leave undecided)


def predicted_pairs(articles: Sequence[Article], settings: NearDupSettings) -> Predicted:
    """What the stage's rule decides for every pair sharing a band value (or the exact-copy key).

    Decided on the b-bit estimates when they are clear of the thresholds by ``verify_margin``,
    else on the exact fingerprints (``pair_verdict``, ``fingerprint_similarity``), as the
    stage does.
    """
    signer = Signer(settings)
    signed = {a.article_id: signer.sign(a.article_id, 0, a.text, a.content_hash) for a in articles}
    buckets: dict[tuple[str, bytes], list[str]] = defaultdict(list)
    for article_id, s in signed.items():
        for key, entry in s.entries:
            buckets[key, entry.tag].append(article_id)
    confirmed: set[Pair] = set()
    candidates: set[Pair] = set()
    checked: set[Pair] = set()
    compared = 0
    for (key, _), ids in buckets.items():
        for a, b in itertools.combinations(sorted(ids), 2):
            compared += 1
            candidates.add((a, b))
            if (a, b) in confirmed:
                continue
            if key.startswith(EXACT_PREFIX):
                confirmed.add((a, b))
                continue
            pa, pb = signed[a].payload, signed[b].payload
            assert pa is not None and pb is not None
            verdict, _ = pair_verdict(pa, pb, settings)
            if verdict == VERIFY_PAIR:
                checked.add((a, b))
                exact = fingerprint_similarity(signed[a].fingerprint, signed[b].fingerprint)
                if confirm(*exact, settings) is not None:
                    confirmed.add((a, b))
            elif verdict == ACCEPT:
                confirmed.add((a, b))
    n = max(1, len(articles))
    return Predicted(confirmed, candidates, 2 * compared / n, len(checked) / n)


def near_boundary(jaccard: float, containment: float, settings: NearDupSettings) -> bool:
    """Whether moving the exact Jaccard or containment by up to ``MARGIN`` flips the rule."""
    decision = confirm(jaccard, containment, settings) is not None
    return any(
        (confirm(jaccard + dj, containment + dc, settings) is not None) != decision
        for dj in (-MARGIN, 0.0, MARGIN)
        for dc in (-MARGIN, 0.0, MARGIN)
    )


def pair_scores(gold: Iterable[Pair], predicted: set[Pair]) -> tuple[float, float, int, int]:
    gold_set = set(gold)
    hits = len(gold_set & predicted)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(gold_set) if gold_set else 1.0
    return precision, recall, len(gold_set), len(predicted)


# ----------------------------------------------------------------------------------------------
# Pipeline vs loop


def ts_of(article: Article) -> int:
    """The stage's timestamp of an article: ``first_seen_at`` in microseconds, to the millisecond."""
    return int(article.first_seen_at.timestamp() * 1000) * 1000


def loop_mark(articles: Sequence[Article], settings: NearDupSettings) -> list[Article]:
    """The same computation as ``MarkNearDuplicates``, in one process, in time order."""
    marks = reference_marks([(ts_of(a), a) for a in articles], settings)
    out = []
    for article in articles:
        match = marks[article.article_id]
        out.append(
            article
            if match is None
            else replace(article, duplicate_of=match.article_id, duplicate_score=round(match.score, 4))
        )
    return out


def roots(links: dict[str, str | None]) -> dict[str, str | None]:
    """Each article's chain of ``duplicate_of`` links followed to its end (what the ``articles``
    view shows)."""
    out: dict[str, str | None] = {}
    for article_id, target in links.items():
        seen = 0
        while target is not None and links.get(target) is not None and seen < 100:
            target, seen = links[target], seen + 1
        out[article_id] = target
    return out


def pipeline_mark(articles: Sequence[Article], settings: NearDupSettings) -> dict[str, str | None]:
    """``article_id -> duplicate_of`` from ``MarkNearDuplicates`` on the FnApiRunner."""
    with tempfile.TemporaryDirectory() as tmp:
        options = PipelineOptions(runner="FnApiRunner")
        with beam.Pipeline(options=options) as p:
            _ = (
                p
                | "Create" >> beam.Create(list(articles), reshuffle=False)
                | "Timestamp" >> beam.Map(lambda a: TimestampedValue(a, ts_of(a) / 1e6))
                | "Mark near-duplicates" >> MarkNearDuplicates(settings)
                | "To JSON" >> beam.Map(lambda a: json.dumps([a.article_id, a.duplicate_of]))
                | "Write" >> beam.io.WriteToText(str(Path(tmp) / "out"))
            )
        rows = [json.loads(line) for path in Path(tmp).glob("out*") for line in path.open()]
    return {article_id: duplicate_of for article_id, duplicate_of in rows}


def gold_duplicate_of(
    articles: Sequence[Article], gold: dict[Pair, float], ttl_s: float
) -> dict[str, str | None]:
    """Per article, its earliest gold match that is earlier and within the TTL."""
    when = {a.article_id: ts_of(a) / 1e6 for a in articles}
    out: dict[str, str | None] = {a.article_id: None for a in articles}
    for a, b in gold:
        first, second = sorted((a, b), key=lambda x: (when[x], x))
        if when[second] - when[first] >= ttl_s:
            continue
        current = out[second]
        if current is None or (when[first], first) < (when[current], current):
            out[second] = first
    return out


# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tune", action="store_true", help="print the bands x rows grid on the tuning topics"
    )
    parser.add_argument("--variants", type=int, default=3, help="copies per base text")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    if not args.docs.exists():
        print(
            f"error: {args.docs} not found: this benchmark needs ../shared (the ECB+ dev docs)",
            file=sys.stderr,
        )
        return 2

    rng = random.Random(args.seed)
    bases = load_bases(args.docs, rng)
    topics = sorted({d.topic for d in bases})
    tuning = set(topics[0::2])
    halves = {
        TUNE: [d for d in bases if d.topic in tuning],
        REPORT: [d for d in bases if d.topic not in tuning],
    }
    corpora = {name: build_corpus(docs, args.variants, rng) for name, docs in halves.items()}
    articles = {name: articles_for(docs, rng) for name, docs in corpora.items()}
    defaults = NearDupSettings()

    if args.tune:
        name = TUNE
        gold = gold_pairs(articles[name], defaults)
        print(f"{name}: {len(articles[name])} articles, {len(gold)} gold pairs")
        header = (
            f"{'bands x rows':>12} {'bits':>4} {'margin':>6} {'precision':>9} {'recall':>7} "
            f"{'cand. recall':>12} {'compared/article':>16} {'checked/article':>15}"
        )
        print(f"  {header}")
        grid = [(b, r, bits, m) for (b, r), bits in itertools.product(GRID, BITS) for m in MARGINS]
        for bands, rows, bits, margin in grid:
            settings = replace(defaults, bands=bands, rows=rows, signature_bits=bits, verify_margin=margin)
            found = predicted_pairs(articles[name], settings)
            precision, recall, _, _ = pair_scores(gold, found.confirmed)
            cand_recall = len(set(gold) & found.candidates) / max(1, len(gold))
            print(
                f"  {bands:>7} x {rows:<3} {bits:>4} {margin:>6.2f} {precision:>9.4f} {recall:>7.4f} "
                f"{cand_recall:>12.4f} {found.compared:>16.1f} {found.checked:>15.2f}"
            )
        return 0

    name = REPORT
    report = articles[name]
    gold = gold_pairs(report, defaults)
    found = predicted_pairs(report, defaults)
    predicted, candidates = found.confirmed, found.candidates
    precision, recall, n_gold, n_pred = pair_scores(gold, predicted)
    sets = {a.article_id: shingles(shingle_words(a.text), defaults.shingle_size) for a in report}
    by_jaccard = {
        p for p in gold if exact_pair_similarity(sets[p[0]], sets[p[1]])[0] >= defaults.jaccard_threshold
    }
    only_containment = set(gold) - by_jaccard
    print(
        f"settings: {defaults.bands} bands x {defaults.rows} rows, {defaults.signature_bits}-bit signatures, "
        f"exact check within {defaults.verify_margin} of a threshold"
    )
    print(f"{name}: {len(report)} articles ({len(halves[name])} ECB+ texts + variants)")
    print(f"  pairs: gold {n_gold}, predicted {n_pred}; precision {precision:.4f}, recall {recall:.4f}")
    print(f"  candidates compared per article: {found.compared:.1f}")
    print(
        f"  pairs checked exactly per article: {found.checked:.2f} (the stage checks fewer: only earlier than a match)"
    )
    print(
        f"  candidate recall (gold pairs sharing a key): {len(set(gold) & candidates) / max(1, n_gold):.4f}"
    )
    for label, subset in (("Jaccard >= threshold", by_jaccard), ("containment only", only_containment)):
        share = len(subset & predicted) / max(1, len(subset))
        print(f"  recall, gold pairs by {label}: {share:.4f} of {len(subset)}")
    errors = (predicted - set(gold)) | (set(gold) - predicted)
    close = sum(1 for a, b in errors if near_boundary(*exact_pair_similarity(sets[a], sets[b]), defaults))
    print(
        f"  errors (false positives + misses): {len(errors)}, of which {close} are pairs whose exact "
        f"Jaccard or containment is within {MARGIN} of a threshold of the rule"
    )
    missed = sorted(set(gold) - predicted)
    for a, b in missed[:5]:
        jaccard, containment = exact_pair_similarity(sets[a], sets[b])
        print(f"  missed: {a} / {b} (exact Jaccard {jaccard:.2f}, containment {containment:.2f})")

    everything = [a for docs in articles.values() for a in docs]
    start = time.perf_counter()
    looped = loop_mark(everything, defaults)
    loop_s = time.perf_counter() - start
    start = time.perf_counter()
    piped = pipeline_mark(everything, defaults)
    pipe_s = time.perf_counter() - start
    agree = sum(piped.get(a.article_id, "missing") == a.duplicate_of for a in looped)
    expected = gold_duplicate_of(report, gold, defaults.ttl_s)
    right = sum(piped.get(k, "missing") == v for k, v in expected.items())
    expected_roots, piped_roots = roots(expected), roots(piped)
    right_roots = sum(piped_roots.get(k, "missing") == v for k, v in expected_roots.items())
    signer = Signer(defaults)
    signed = [signer.sign(a.article_id, ts_of(a), a.text, a.content_hash) for a in everything]
    sizes = [state_bytes(s) for s in signed]
    prints = [len(s.fingerprint) for s in signed]
    print(
        f"pipeline vs loop over all {len(everything)} articles (FnApiRunner, one run; the machine is shared):"
    )
    print(f"  pipeline emitted {len(piped)}, same duplicate_of as the loop for {agree}")
    print(f"  duplicate_of equal to the brute-force earliest match ({name}): {right}/{len(expected)}")
    print(
        f"  its root (the chain followed, as the articles view shows it) equal to the root of the "
        f"brute-force chain ({name}): {right_roots}/{len(expected_roots)}"
    )
    marked = [k for k, v in piped.items() if v is not None]
    chained = [k for k in marked if piped.get(piped[k] or "") is not None]
    print(
        f"  duplicates {len(marked)}, of which {len(chained)} link to an article that is itself a "
        "duplicate (a chain, resolved to its root by the view)"
    )
    print(
        f"  loop {loop_s:.2f} s ({len(everything) / loop_s:.0f} articles/s), "
        f"pipeline {pipe_s:.2f} s ({len(everything) / pipe_s:.0f} articles/s), ratio {pipe_s / loop_s:.1f}x"
    )
    print(
        f"  state per tracked article: mean {statistics.mean(sizes):.0f} bytes (max {max(sizes)}): "
        f"{defaults.bands} band entries + 1 exact-copy entry as stored, "
        f"{statistics.mean(sizes) - statistics.mean(prints):.0f}; "
        f"the fingerprint for exact checks, {statistics.mean(prints):.0f} (max {max(prints)})"
    )
    return 0 if len(piped) == len(everything) and agree == len(everything) else 1


if __name__ == "__main__":
    sys.exit(main())
