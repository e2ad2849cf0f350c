"""Event time with TestStream: the URL-dedup TTL, decided from stored timestamps."""

from __future__ import annotations

from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from transforms.dedup_url import DropSeenUrls

TTL = 1000.0


def test_duplicates_dropped_within_ttl_and_kept_again_after_it() -> None:
    stream = (
        TestStream()
        .add_elements([TimestampedValue(("a", "first"), 0), TimestampedValue(("b", "first"), 10)])
        .advance_watermark_to(500)
        .add_elements([TimestampedValue(("a", "repeat within ttl"), 500)])
        .advance_watermark_to(1500)  # a's entry expires (its timer may or may not have fired)
        .add_elements(
            [
                TimestampedValue(("a", "after ttl"), 1500),
                TimestampedValue(("b", "repeat, arriving late"), 900),
            ]
        )
        .advance_watermark_to_infinity()
    )
    options = StandardOptions(streaming=True)
    with TestPipeline(options=options) as p:
        kept = p | stream | DropSeenUrls(lambda r: r[0], ttl_s=TTL, reason="url")
        assert_that(kept, equal_to([("a", "first"), ("b", "first"), ("a", "after ttl")]))
