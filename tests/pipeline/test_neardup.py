"""``MarkNearDuplicates`` inside a TestPipeline (FnApiRunner), and on two worker processes."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from tests.neardup_corpus import article, misjudged_pairs, seen_at, story
from transforms.coders import to_micros
from transforms.neardup import MarkNearDuplicates, NearDupSettings, reference_marks
from transforms.records import Article

BOILERPLATE = "Advertisement. Share this article on social media. Sign up for our newsletter."


def corpus() -> list[Article]:
    original = story(1, paragraphs=10)
    trimmed = original[:8]
    edited = [
        "Exclusive: officials confirm the flood plan",  # a new headline line on top
        *[p.replace(",", "").upper() for p in original[:5]],  # case and punctuation noise
        BOILERPLATE,
        *original[5:],
    ]
    copy_of_copy = [*trimmed[:7], "This story has been updated with comment from the council."]
    unrelated = story(2, paragraphs=10)
    return [
        article("original", original, 100.0),
        article("verbatim", original, 200.0),
        article("unrelated", unrelated, 250.0),
        article("trimmed", trimmed, 300.0),
        article("edited", edited, 400.0),
        article("copy-of-copy", copy_of_copy, 500.0),
        article("unrelated-copy", unrelated[:9], 600.0),
    ]


EXPECTED = {
    "original": None,
    "verbatim": "original",
    "unrelated": None,
    "trimmed": "original",
    "edited": "original",
    "copy-of-copy": "original",
    "unrelated-copy": "unrelated",
}


def _outcome(a: Article) -> tuple[str, str | None, float | None]:
    return (a.article_id, a.duplicate_of, a.duplicate_score)


def test_copies_point_to_the_earliest_and_unrelated_articles_do_not() -> None:
    articles = sorted(corpus(), key=seen_at, reverse=True)  # the latest arrives first
    with TestPipeline(runner="FnApiRunner") as p:
        marked = (
            p
            | beam.Create(articles)
            | "Timestamp" >> beam.Map(lambda a: TimestampedValue(a, seen_at(a)))
            | MarkNearDuplicates(NearDupSettings())
        )
        assert_that(
            marked | "Ids" >> beam.Map(lambda a: (a.article_id, a.duplicate_of)),
            equal_to(list(EXPECTED.items())),
            label="duplicate_of",
        )
        assert_that(
            marked
            | "Scores" >> beam.Filter(lambda a: a.article_id in ("verbatim", "original"))
            | beam.Map(_outcome),
            equal_to([("original", None, None), ("verbatim", "original", 1.0)]),
            label="exact copy",
        )
        assert_that(
            marked | "Text kept" >> beam.Map(lambda a: (a.article_id, len(a.text) > 100)),
            equal_to([(key, True) for key in EXPECTED]),
            label="articles unchanged otherwise",
        )


def test_short_texts_are_matched_only_when_exact() -> None:
    short = ["Markets closed higher on Friday."]
    articles = [
        article("short", short, 10.0),
        article("short-copy", short, 20.0),
        article("short-edit", ["Markets closed higher on Friday again."], 30.0),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        marked = (
            p
            | beam.Create(articles)
            | beam.Map(lambda a: TimestampedValue(a, seen_at(a)))
            | MarkNearDuplicates(NearDupSettings())
        )
        assert_that(
            marked | beam.Map(_outcome),
            equal_to([("short", None, None), ("short-copy", "short", 1.0), ("short-edit", None, None)]),
        )


def borderline() -> tuple[list[Article], dict[str, str | None]]:
    """Two pairs the MinHash estimates decide wrongly, and the right ``duplicate_of``."""
    pairs = misjudged_pairs()
    articles = []
    expected: dict[str, str | None] = {}
    for name, is_copy in (("near", True), ("far", False)):
        original, copy = pairs[is_copy]
        articles += [article(f"{name}-original", original, 30.0), article(f"{name}-copy", copy, 90.0)]
        expected |= {f"{name}-original": None, f"{name}-copy": f"{name}-original" if is_copy else None}
    return articles, expected


def test_pairs_too_close_to_a_threshold_for_the_estimates_are_decided_exactly() -> None:
    """A copy whose estimated Jaccard falls under 0.5 while the exact one is 0.5 or more is found,
    and a non-copy estimated above 0.5 is not (the exact check on the fingerprints decides)."""
    articles, expected = borderline()
    with TestPipeline(runner="FnApiRunner") as p:
        marked = (
            p
            | beam.Create(articles[::-1])
            | beam.Map(lambda a: TimestampedValue(a, seen_at(a)))
            | MarkNearDuplicates(NearDupSettings())
        )
        assert_that(
            marked | beam.Map(lambda a: (a.article_id, a.duplicate_of)), equal_to(list(expected.items()))
        )


def run_to_files(articles: list[Article], out: Path, options: PipelineOptions) -> dict[str, list]:
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | beam.Create(articles)
            | beam.Map(lambda a: TimestampedValue(a, seen_at(a)))
            | MarkNearDuplicates(NearDupSettings())
            | beam.Map(lambda a: json.dumps([a.article_id, a.duplicate_of, a.duplicate_score]))
            | beam.io.WriteToText(str(out / "part"))
        )
    rows = [json.loads(line) for path in out.glob("part*") for line in path.read_text().splitlines()]
    return {row[0]: row[1:] for row in rows}


def bursts(seed: int = 11) -> list[Article]:
    """Six copies each of six stories, seen in bursts (ties on time are broken by id)."""
    rng = random.Random(seed)
    articles = []
    for s in range(6):
        base = story(100 + s, paragraphs=8)
        for c in range(6):
            paragraphs = base[: rng.randint(6, 8)] + ([BOILERPLATE] if rng.random() < 0.5 else [])
            articles.append(article(f"s{s}-c{c}", paragraphs, float(rng.choice((0, 60, 60, 120)))))
    return articles


def check_earliest_copies(articles: list[Article], result: dict[str, list]) -> None:
    """Each story's earliest copy by (first_seen_at, article_id) is canonical, the rest point to it."""
    assert len(result) == len(articles)
    for s in range(6):
        copies = sorted(
            (a for a in articles if a.article_id.startswith(f"s{s}-")),
            key=lambda a: (seen_at(a), a.article_id),
        )
        first = copies[0].article_id
        assert [result[a.article_id][0] for a in copies] == [None] + [first] * (len(copies) - 1)


@pytest.mark.slow
def test_one_worker_and_two_worker_processes_give_the_same_result(tmp_path: Path) -> None:
    """The same result from one worker and from two worker processes, in two arrival orders.

    What this covers: a different arrival order and bundling, and the elements crossing into
    worker processes (coders, pickling, imports on the workers).  What it cannot cover: the
    FnApiRunner runs stateful stages on one worker even with ``direct_num_workers=2``
    (``FnApiRunner._get_bundle_manager``), so keys are never processed concurrently here;
    ``tests/runners/test_neardup_prism.py`` compares with Prism, which does.
    """
    near, expected = borderline()
    articles = bursts() + near
    rng = random.Random(5)
    one = run_to_files(
        rng.sample(articles, len(articles)), tmp_path / "one", PipelineOptions(runner="FnApiRunner")
    )
    two = run_to_files(
        rng.sample(articles, len(articles)),
        tmp_path / "two",
        PipelineOptions(runner="FnApiRunner", direct_num_workers=2, direct_running_mode="multi_processing"),
    )
    assert one == two
    check_earliest_copies(articles, one)
    assert {k: one[k][0] for k in expected} == expected


def test_a_bounded_input_in_any_order_forgets_nothing_within_the_ttl() -> None:
    """A backfill reaches the stage in any order: with unbounded lateness (what bounded runs get,
    ``pipelines.ingest``) copies seen a few days apart are found however far apart in time the
    input's articles arrive; the result is the pure reference's."""
    rng = random.Random(3)
    articles = []
    for s in range(8):
        base = story(500 + s, paragraphs=8)
        day = rng.uniform(0, 90) * 86400  # stories over three months
        articles += [article(f"s{s}-c{c}", base[: 8 - c % 2], day + c * 2 * 86400) for c in range(3)]
    settings = NearDupSettings(allowed_lateness_s=math.inf)
    with TestPipeline(runner="FnApiRunner") as p:
        marked = (
            p
            | beam.Create(rng.sample(articles, len(articles)))
            | beam.Map(lambda a: TimestampedValue(a, seen_at(a)))
            | MarkNearDuplicates(settings)
        )
        want = reference_marks([(to_micros(a.first_seen_at), a) for a in articles], settings)
        assert_that(
            marked | beam.Map(lambda a: (a.article_id, a.duplicate_of)),
            equal_to([(k, m.article_id if m else None) for k, m in want.items()]),
        )
    assert sum(m is not None for m in want.values()) == 16  # two copies of each story
