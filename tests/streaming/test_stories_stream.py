"""Event time with TestStream: the story window, and out-of-order arrival."""

from __future__ import annotations

from datetime import timedelta

import apache_beam as beam
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from tests.factories import NOW, make_article
from transforms.records import Article, Entity
from transforms.stories import AssignStories, StorySettings
from transforms.story_model import StoryModelSettings

SETTINGS = StorySettings(StoryModelSettings(window_hours=1.0), allowed_lateness_hours=0.5)
T = NOW.timestamp()  # articles are first seen at NOW + their offset in seconds
EVENTS = {
    "etna": ("Etna erupts near Catania, spewing ash over Sicily", ("etna", "catania", "sicily")),
    "freddy": (
        "Cyclone Freddy batters Mozambique coast near Quelimane",
        ("freddy", "mozambique", "quelimane"),
    ),
}


def article(article_id: str, event: str, offset_s: float) -> TimestampedValue:
    """A rewrite of ``event`` first seen (and published) ``offset_s`` after ``NOW``."""
    headline, keys = EVENTS[event]
    seen = NOW + timedelta(seconds=offset_s)
    text = f"{headline}. Officials said {', '.join(k.title() for k in keys)} were affected ({article_id})."
    entities = tuple(Entity(k.title(), k, "GPE", 2) for k in keys)
    a = make_article(
        text, article_id, title=headline, first_seen_at=seen, published_at=seen, entities=entities
    )
    return TimestampedValue(a, seen.timestamp())


def _story(a: Article) -> tuple[str, str | None]:
    return (a.article_id, a.story_id)


def _run(stream: TestStream, expected: list[tuple[str, str]]) -> None:
    with TestPipeline(options=StandardOptions(streaming=True)) as p:
        out = p | stream | AssignStories(SETTINGS)
        assert_that(out | beam.Map(_story), equal_to(expected))


def test_an_article_arriving_after_the_window_starts_a_new_story() -> None:
    stream = (
        TestStream()
        .add_elements([article("a", "etna", 0.0)])
        .advance_watermark_to(T + 100)
        .add_elements([article("b", "etna", 600.0)])  # within the window of a
        .advance_watermark_to(T + 6000)  # a and b are out of reach (their keys may have been freed)
        .add_elements([article("c", "etna", 7200.0)])  # 6600 s after b, window 3600 s: afresh
        .advance_watermark_to(T + 7300)
        .add_elements([article("d", "etna", 7800.0)])
        .advance_watermark_to(T + 8000)
        .advance_watermark_to_infinity()
    )
    _run(stream, [("a", "a"), ("b", "a"), ("c", "c"), ("d", "c")])


def test_out_of_order_arrival_still_links_each_article_to_its_best_earlier_match() -> None:
    """Parents as in time order (the root, etna-1 and freddy-1, is the first article of each)."""
    stream = (
        TestStream()
        # later rewrites arrive before the first article, in one batch ...
        .add_elements([article("etna-3", "etna", 300.0), article("etna-2", "etna", 200.0)])
        .add_elements([article("etna-1", "etna", 100.0)])
        # ... and across watermark steps: a later rewrite first, the first one while still on time
        .add_elements([article("freddy-2", "freddy", 700.0)])
        .advance_watermark_to(T + 500)
        .add_elements([article("freddy-1", "freddy", 600.0)])
        .advance_watermark_to(T + 800)
        .advance_watermark_to_infinity()
    )
    _run(
        stream,
        [
            ("etna-1", "etna-1"),
            ("etna-2", "etna-1"),
            ("etna-3", "etna-2"),  # the closer in time of two equal rewrites
            ("freddy-1", "freddy-1"),
            ("freddy-2", "freddy-1"),
        ],
    )
