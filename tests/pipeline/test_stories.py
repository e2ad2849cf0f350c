"""``AssignStories`` inside a TestPipeline (FnApiRunner), and on two worker processes."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from tests.factories import make_article
from transforms.coders import to_micros
from transforms.entities import TagEntities
from transforms.extract import extract_html
from transforms.records import Article, Entity
from transforms.stories import AssignStories, StorySettings, reference_links
from transforms.story_model import StoryModelSettings, link_score, story_vector

SITE = Path(__file__).parents[2] / "samples" / "site"
# The aggregator page of ../shared/seed, as bundled in the sample site: the Time of India and
# Firstpost articles on one event, and two unrelated items.
SEED_PAGES = {
    "toi": "daily-ledger/2025/06/18/north-korea-plans-to-send-military-construction-workers-and.html",
    "firstpost": "capital-bulletin/2025/06/18/north-korea-to-send-thousands-of-workers-to-support.html",
    "putin": "metro-wire/video/putin-military-overhaul.html",
    "g7": "harbor-times/news/g7-summit-leaders-fail-to-reach-ambitious-joint-agreements.html",
}
SEEN = datetime(2025, 6, 18, 12, tzinfo=UTC)
HOURS_AGO = {"toi": 5, "firstpost": 1, "putin": 1, "g7": 3}  # as on the seed page


def seed_articles() -> list[Article]:
    out = []
    for name, page in SEED_PAGES.items():
        extracted = extract_html((SITE / page).read_bytes(), f"https://ex.org/{name}")
        assert extracted.text
        seen = SEEN - timedelta(hours=HOURS_AGO[name])
        out.append(
            make_article(extracted.text, name, title=extracted.title, first_seen_at=seen, published_at=seen)
        )
    return out


def _at(a: Article) -> TimestampedValue:
    return TimestampedValue(a, a.first_seen_at.timestamp())


CHAIN_WORDS = ("quixel", "brambor", "tindrel", "vomark", "zelpin", "kraditch", "plumbex", "snorvik", "gavrel")


def chain_articles(n: int = 7, start: datetime = SEEN) -> list[Article]:
    """``c0 <- c1 <- ... <- c{n-1}``: each shares one title word and one person with the previous
    article only and nothing with the others, so each article's best match is the one before it
    (with ``CHAIN``'s threshold: ``test_the_chain_links_only_neighbours``), and each link is
    found under a different pair of blocking keys."""
    out = []
    for i in range(n):
        pair = CHAIN_WORDS[i : i + 2]
        title = " ".join(w.title() for w in pair)
        seen = start + timedelta(minutes=10 * i)
        ents = tuple(Entity(w.title(), w, "PERSON", 2) for w in pair)
        out.append(
            make_article(title, f"c{i}", title=title, first_seen_at=seen, published_at=seen, entities=ents)
        )
    return out


# The chain's links score 0.76 with the shipped weights (made-up words: no shared vocabulary
# beyond the two names), below the model's own threshold: the chain tests the stage's mechanics
# with a threshold set between its links and its non-links.
CHAIN = StorySettings(StoryModelSettings(threshold=0.6))


def test_the_chain_links_only_neighbours() -> None:
    model = CHAIN.model
    vectors = [story_vector(a, model) for a in chain_articles()]
    links = [link_score(b, a, model) for a, b in itertools.pairwise(vectors)]
    others = [link_score(vectors[i], vectors[j], model) for i in range(7) for j in range(i - 1)]
    assert min(links) >= model.join_threshold > max(others)


def test_seed_pair_shares_a_story_and_unrelated_articles_do_not_whatever_the_order() -> None:
    """``story_id`` names the parent (the best earlier match); the root is the story's first
    article, found by following the parents (in the ``articles`` view, ``tests/e2e``).  With the
    shipped model on the seed page; with the chain's threshold on the seed page and the chain,
    in another order."""
    articles = seed_articles()
    chain = chain_articles()  # one story through 6 links, each found under other blocking keys
    seed = [("toi", "toi"), ("firstpost", "toi"), ("putin", "putin"), ("g7", "g7")]
    chained = seed + [(a.article_id, chain[max(0, i - 1)].article_id) for i, a in enumerate(chain)]
    with TestPipeline(runner="FnApiRunner") as p:
        # the latest article first; the reshuffled branch sees yet another order
        tagged = p | beam.Create(articles[::-1]) | "Tag" >> TagEntities()
        stories = tagged.articles | "Assign" >> AssignStories(StorySettings())
        again = (
            (tagged.articles, p | "Chain" >> beam.Create(chain[::-1]) | "Chain times" >> beam.Map(_at))
            | "With chain" >> beam.Flatten()
            | "Shuffle" >> beam.Reshuffle()
            | "Time" >> beam.Map(_at)
            | "Assign shuffled" >> AssignStories(CHAIN)
        )
        for label, out, expected in (("stories", stories, seed), ("reshuffled", again, chained)):
            assert_that(
                out | f"Ids {label}" >> beam.Map(lambda a: (a.article_id, a.story_id)),
                equal_to(expected),
                label=label,
            )
        assert_that(
            again | "Scores" >> beam.Map(lambda a: (a.article_id, a.story_score is not None)),
            equal_to(
                [(a, a == "firstpost") for a, _ in seed]
                + [(a.article_id, a.article_id != "c0") for a in chain]
            ),
            label="scores",
        )


def _entities(*keys: str) -> tuple[Entity, ...]:
    return tuple(Entity(k.title(), k, "PERSON", 2) for k in keys)


def test_articles_without_blocking_keys_get_their_own_story_and_text_is_kept() -> None:
    empty = make_article("", "empty", title=None, entities=())
    other = make_article("Flood waters rise in Dresden as the Elbe bursts its banks", "flood", title="Flood")
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create([empty, other]) | AssignStories(StorySettings())
        assert_that(
            out | beam.Map(lambda a: (a.article_id, a.story_id, a.story_score, len(a.text))),
            equal_to([("empty", "empty", None, 0), ("flood", "flood", None, len(other.text))]),
        )


# ----------------------------------------------------------------------------------------------
# One worker and two worker processes


EVENTS = [
    ("Volcano erupts near Catania as Etna spews ash over Sicily", ("etna", "catania", "sicily")),
    ("Striking dockworkers block Rotterdam harbour in pay dispute", ("rotterdam", "maersk", "fnv")),
    (
        "Cyclone Freddy batters Mozambique coast leaving thousands homeless",
        ("freddy", "mozambique", "quelimane"),
    ),
]


def event_articles() -> list[Article]:
    """Three events, several rewrites of each, seen in bursts (time ties broken by id)."""
    rng = random.Random(7)
    out = []
    for e, (headline, keys) in enumerate(EVENTS):
        words = headline.split()
        for c in range(5):
            variant = " ".join(rng.sample(words, len(words)))
            text = f"{headline}. {variant}. Officials said on Tuesday that {' and '.join(k.title() for k in keys)}."
            seen = SEEN + timedelta(minutes=rng.choice((0, 30, 30, 60)))
            out.append(
                make_article(
                    text,
                    f"e{e}-c{c}",
                    title=variant,
                    first_seen_at=seen,
                    published_at=seen,
                    entities=_entities(*keys[: 2 + c % 2]),
                )
            )
    return out


def _run_to_files(articles: list[Article], out: Path, options: PipelineOptions) -> dict[str, list]:
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | beam.Create(articles)
            | beam.Map(_at)
            | AssignStories(CHAIN)
            | beam.Map(lambda a: json.dumps([a.article_id, a.story_id, a.story_score]))
            | beam.io.WriteToText(str(out / "part"))
        )
    rows = [json.loads(line) for path in out.glob("part*") for line in path.read_text().splitlines()]
    return {row[0]: row[1:] for row in rows}


@pytest.mark.slow
def test_one_worker_and_two_worker_processes_give_the_same_stories(tmp_path: Path) -> None:
    articles = event_articles() + chain_articles(8, SEEN - timedelta(hours=2))
    rng = random.Random(5)
    one = _run_to_files(
        rng.sample(articles, len(articles)), tmp_path / "one", PipelineOptions(runner="FnApiRunner")
    )
    two = _run_to_files(
        rng.sample(articles, len(articles)),
        tmp_path / "two",
        PipelineOptions(runner="FnApiRunner", direct_num_workers=2, direct_running_mode="multi_processing"),
    )
    assert len(one) == len(articles)
    assert one == two
    links = reference_links([(to_micros(a.first_seen_at), a) for a in articles], CHAIN)
    assert {k: v[0] for k, v in one.items()} == {
        k: (link.other_id if link else k) for k, link in links.items()
    }
    for e in range(len(EVENTS)):  # each event is one story: its articles link within it
        members = {a.article_id for a in articles if a.article_id.startswith(f"e{e}-")}
        assert {one[m][0] for m in members} <= members
    # the chain: 7 links, each the only one between its two articles
    assert [one[f"c{i}"][0] for i in range(8)] == ["c0", *(f"c{i}" for i in range(7))]
