"""Event time with TestStream: the near-duplicate TTL, and out-of-order arrival."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from tests.neardup_corpus import T0, article, misjudged_pairs, seen_at, story
from transforms.neardup import MarkNearDuplicates, NearDupSettings
from transforms.records import Article

SETTINGS = NearDupSettings(ttl_s=1000.0, allowed_lateness_s=100.0)
T = T0.timestamp()  # articles are first seen at T0 + their offset in seconds


def _at(a: Article) -> TimestampedValue:
    return TimestampedValue(a, seen_at(a))


def _duplicate_of(a: Article) -> tuple[str, str | None]:
    return (a.article_id, a.duplicate_of)


def _run(stream: TestStream, expected: list[tuple[str, str | None]]) -> None:
    with TestPipeline(options=StandardOptions(streaming=True)) as p:
        marked = p | stream | MarkNearDuplicates(SETTINGS)
        assert_that(marked | beam.Map(_duplicate_of), equal_to(expected))


def test_a_copy_arriving_after_the_ttl_starts_afresh() -> None:
    text = story(1, paragraphs=10)
    stream = (
        TestStream()
        .add_elements([_at(article("a", text, 0.0))])
        .advance_watermark_to(T + 100)
        .add_elements([_at(article("b", text[:9], 500.0))])  # within the TTL of a
        .advance_watermark_to(T + 1900)  # a and b have expired (their keys may have been freed)
        .add_elements([_at(article("c", text, 2000.0))])  # 1500 s after b: afresh
        .advance_watermark_to(T + 2050)
        .add_elements([_at(article("d", text[:8], 2100.0))])
        .advance_watermark_to(T + 2200)  # released here; at infinity the end-of-window flush races it
        .advance_watermark_to_infinity()
    )
    _run(stream, [("a", None), ("b", "a"), ("c", None), ("d", "c")])


def test_out_of_order_arrival_still_makes_the_earliest_canonical() -> None:
    first = story(2, paragraphs=10)
    second = story(3, paragraphs=10)
    stream = (
        TestStream()
        # later copies arrive before the original, in one batch ...
        .add_elements(
            [
                _at(article("copy-2", first[:9], 300.0)),
                _at(article("copy-1", first, 200.0)),
                _at(article("original", first, 100.0)),
            ]
        )
        # ... and across watermark steps: a later copy first, the original while still on time
        .add_elements([_at(article("other-copy", second[:9], 700.0))])
        .advance_watermark_to(T + 500)
        .add_elements([_at(article("other", second, 600.0))])
        .advance_watermark_to(T + 800)
        .advance_watermark_to_infinity()
    )
    _run(
        stream,
        [
            ("original", None),
            ("copy-1", "original"),
            ("copy-2", "original"),
            ("other", None),
            ("other-copy", "other"),
        ],
    )


def test_undecided_pairs_are_checked_exactly_in_a_stream_and_their_state_expires() -> None:
    """The borderline pairs of ``misjudged_pairs`` arriving copy first, across watermark steps:
    the copy is checked against the original's fingerprint, whichever reaches the check first;
    a copy seen beyond the TTL of both starts afresh."""
    pairs = misjudged_pairs()
    near_original, near_copy = pairs[True]
    far_original, far_copy = pairs[False]
    stream = (
        TestStream()
        .add_elements(
            [_at(article("near-copy", near_copy, 300.0)), _at(article("far-copy", far_copy, 310.0))]
        )
        .add_elements([_at(article("near-original", near_original, 100.0))])
        .advance_watermark_to(T + 200)
        .add_elements([_at(article("far-original", far_original, 250.0))])
        .advance_watermark_to(T + 400)
        .add_elements([_at(article("near-copy-again", near_copy, 1500.0))])  # beyond the TTL of both
        .advance_watermark_to(T + 1600)
        .advance_watermark_to_infinity()
    )
    _run(
        stream,
        [
            ("near-original", None),
            ("near-copy", "near-original"),
            ("far-original", None),
            ("far-copy", None),
            ("near-copy-again", None),
        ],
    )
