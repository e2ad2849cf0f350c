"""A property of the keyed stages: in any arrival order within the allowed lateness, with the
watermark advancing between arrivals, ``MarkNearDuplicates`` and ``AssignStories`` decide exactly
what the pure references (``reference_marks``, ``reference_links``: plain loops in time order)
decide.

Each example reorders a corpus of syndicated copies (some only the exact check decides), story
rewrites and unrelated articles spread over more than the TTL and the story window, and feeds it
to a TestStream in random batches; after each batch the watermark moves as far as it can
without making any article still to come late.  TestStream runs on the BundleBasedDirectRunner,
whose watermarks and event-time timers are exact: a stage that decides before its edges have
arrived or loses state it still needs fails here.  That runner does not hold a step's output
watermark for its timers (``direct_userstate.py``: "add corresponding watermark holds after the
DirectRunner allows for keyed watermark holds"), so a stage fed by another stage's timers cannot
be tested on it: each stage is tested on the stream directly, outputs are collected as they come
(a late output would be dropped by ``assert_that``'s grouping), and both stages chained run on
Prism (``tests/runners/test_keyed_prism.py``).
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from tests.factories import make_article
from tests.neardup_corpus import T0, article, misjudged_pairs, story
from transforms.coders import to_micros
from transforms.keyed import TICK_US
from transforms.neardup import MarkNearDuplicates, NearDupSettings, reference_marks
from transforms.records import Article, Entity
from transforms.stories import AssignStories, StorySettings, reference_links
from transforms.story_model import StoryModelSettings

NEAR = NearDupSettings(ttl_s=2000.0, allowed_lateness_s=1000.0, key_bits=4)
STORIES = StorySettings(StoryModelSettings(window_hours=1.0), allowed_lateness_hours=0.3, key_bits=4)
SPAN_S = 8000.0  # more than the TTL and the story window with their lateness: state is pruned
DISORDER_S = 1000.0  # how far out of time order articles arrive: within both stages' lateness
STREAMING = PipelineOptions(streaming=True, runner="BundleBasedDirectRunner")
EVENTS = [
    ("Volcano erupts near Catania as Etna spews ash over Sicily", ("etna", "catania", "sicily")),
    ("Cyclone Freddy batters Mozambique coast near Quelimane", ("freddy", "mozambique", "quelimane")),
    ("Striking dockworkers block Rotterdam harbour in pay dispute", ("rotterdam", "maersk", "fnv")),
]


def corpus(rng: random.Random) -> list[Article]:
    """Copies of four wire stories (trimmed, with boilerplate, verbatim), the pairs the estimates
    misjudge, rewrites of three events with their entities, and unrelated stories."""
    out = []
    for s in range(4):
        base = story(300 + s, paragraphs=8)
        for c in range(5):
            paragraphs = base[: rng.randint(6, 8)] + (["Share this article."] if rng.random() < 0.5 else [])
            out.append(article(f"w{s}-{c}", paragraphs, rng.uniform(0, SPAN_S)))
    for is_copy, (original, copy) in misjudged_pairs().items():
        out += [
            article(f"m{is_copy}-o", original, 10.0),
            article(f"m{is_copy}-c", copy, rng.uniform(20, 1500)),
        ]
    for e, (headline, keys) in enumerate(EVENTS):
        words = headline.split()
        for c in range(5):
            variant = " ".join(rng.sample(words, len(words)))
            seen = T0 + timedelta(seconds=rng.uniform(0, SPAN_S))
            text = f"{headline}. {variant}. Officials said on Tuesday that {' and '.join(k.title() for k in keys)}."
            entities = tuple(Entity(k.title(), k, "GPE", 2) for k in keys[: 2 + c % 2])
            out.append(
                make_article(
                    text, f"e{e}-{c}", title=variant, first_seen_at=seen, published_at=seen, entities=entities
                )
            )
    for u in range(6):
        out.append(article(f"u{u}", story(400 + u, paragraphs=6), rng.uniform(0, SPAN_S)))
    return out


Decided = tuple[str, str | None, str | None]


def expected(articles: list[Article], near: bool = True, stories: bool = True) -> set[Decided]:
    """``(article_id, duplicate_of, story_id)`` from the references (None: that stage not run), at
    the stages' timestamps: the millisecond of ``first_seen_at``."""
    timed = [(to_micros(a.first_seen_at) // TICK_US * TICK_US, a) for a in articles]
    marks = reference_marks(timed, NEAR) if near else {}
    links = reference_links(timed, STORIES) if stories else {}
    return {
        (
            a.article_id,
            m.article_id if (m := marks.get(a.article_id)) else None,
            (link.other_id if (link := links[a.article_id]) else a.article_id) if stories else None,
        )
        for a in articles
    }


def arrivals(articles: list[Article], rng: random.Random) -> TestStream:
    """The articles in a random order up to ``DISORDER_S`` away from time order, in random batches,
    the watermark advanced after each batch to the earliest article still to come."""
    jitter = {a.article_id: rng.uniform(0, DISORDER_S) for a in articles}
    order = sorted(articles, key=lambda a: a.first_seen_at.timestamp() + jitter[a.article_id])
    stream = TestStream()
    watermark = 0
    while order:
        size = rng.randint(1, 6)
        batch, order = order[:size], order[size:]
        stream = stream.add_elements([TimestampedValue(a, a.first_seen_at.timestamp()) for a in batch])
        earliest = min((to_micros(a.first_seen_at) for a in order), default=0) // 1000 * 1000  # ms
        if earliest > watermark:
            watermark = earliest
            stream = stream.advance_watermark_to(Timestamp(micros=watermark))
    return stream.advance_watermark_to_infinity()


class Collect:
    """Writes each output's decisions to a file of its own in ``directory`` (as they come)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def __call__(self, a: Article) -> None:
        (self._directory / a.article_id).write_text(json.dumps([a.article_id, a.duplicate_of, a.story_id]))


def collected(directory: Path) -> list[Decided]:
    return [tuple(json.loads(path.read_text())) for path in sorted(directory.iterdir())]  # type: ignore[misc]


def run(
    stages: beam.PTransform, stream: TestStream, directory: Path, options: PipelineOptions
) -> list[Decided]:
    directory.mkdir()
    with beam.Pipeline(options=options) as p:
        _ = p | stream | stages | beam.Map(Collect(directory))
    return collected(directory)


@pytest.mark.parametrize("seed", range(4))
def test_near_duplicates_in_any_arrival_order_are_the_references(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    articles = corpus(rng)
    want = expected(articles, stories=False)
    assert sum(d is not None for _, d, _ in want) >= 12  # the corpus does exercise the stage
    got = run(MarkNearDuplicates(NEAR), arrivals(articles, rng), tmp_path / "out", STREAMING)
    assert len(got) == len(articles)
    assert set(got) == want


@pytest.mark.parametrize("seed", range(4))
def test_stories_in_any_arrival_order_are_the_references(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    articles = corpus(rng)
    want = expected(articles, near=False)
    assert sum(s != a for a, _, s in want) >= 20
    got = run(AssignStories(STORIES), arrivals(articles, rng), tmp_path / "out", STREAMING)
    assert len(got) == len(articles)
    assert set(got) == want
