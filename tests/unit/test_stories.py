"""The story stage's pure parts (``transforms.stories``): how two stored entries are compared, the
decision from an article's links, the reference loop and the settings.  The model itself is
tested in ``test_story_model.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.factories import NOW, make_article
from transforms.coders import to_micros
from transforms.keyed import Edge, Stored
from transforms.records import Article, Entity
from transforms.stories import (
    LINK,
    StoryComparison,
    StorySettings,
    parent_link,
    reference_links,
    stage_key,
)
from transforms.story_model import StoryModelSettings, blocking_keys, link_score, story_vector

SETTINGS = StorySettings()
ETNA = ("Etna erupts near Catania, spewing ash over Sicily", ("etna", "catania", "sicily"))


def rewrite(
    article_id: str, hours: float, headline: str = ETNA[0], keys: tuple[str, ...] = ETNA[1]
) -> Article:
    seen = NOW + timedelta(hours=hours)
    text = (
        f"{headline}. Officials said {', '.join(k.title() for k in keys)} were affected as lava "
        f"flowed down the slopes and the airport closed ({article_id})."
    )
    entities = tuple(Entity(k.title(), k, "GPE", 2) for k in keys)
    return make_article(
        text, article_id, title=headline, first_seen_at=seen, published_at=seen, entities=entities
    )


def stored(article: Article, key: str) -> Stored:
    return Stored(
        article.article_id,
        to_micros(article.first_seen_at),
        key.encode(),
        story_vector(article, SETTINGS.model).to_bytes(),
    )


def shared_keys(a: Article, b: Article) -> list[str]:
    model = SETTINGS.model
    return sorted(
        set(blocking_keys(story_vector(a, model), model)) & set(blocking_keys(story_vector(b, model), model))
    )


def test_a_pair_sharing_several_keys_is_scored_in_the_first_only() -> None:
    first, second = rewrite("a", 0), rewrite("b", 2)
    shared = shared_keys(first, second)
    assert len(shared) >= 2
    comparison = StoryComparison(SETTINGS)
    edges = {
        key: comparison.compare(stage_key(key, SETTINGS.key_bits), stored(first, key), stored(second, key))
        for key in shared
    }
    link = edges[shared[0]]
    assert link is not None and (link.kind, link.other_id) == (LINK, "a")
    model = SETTINGS.model
    assert link.score == link_score(story_vector(second, model), story_vector(first, model), model)
    assert all(edges[key] is None for key in shared[1:])


def test_a_link_needs_the_join_threshold() -> None:
    first, second = rewrite("a", 0), rewrite("b", 2)
    key = shared_keys(first, second)[0]
    strict = StorySettings(StoryModelSettings(threshold=1.0))
    assert StoryComparison(strict).compare("s:0", stored(first, key), stored(second, key)) is None
    assert StoryComparison(SETTINGS).compare("s:0", stored(first, key), stored(second, key)) is not None


def test_links_from_the_sole_threshold_up_reach_the_decision() -> None:
    """The probe passes on every score the decision may use: an only link at the sole
    threshold makes a parent, two such links do not."""
    first, second = rewrite("a", 0), rewrite("b", 2)
    key = shared_keys(first, second)[0]
    model = SETTINGS.model
    score = link_score(story_vector(second, model), story_vector(first, model), model)
    sole = StorySettings(StoryModelSettings(threshold=1.0, sole_threshold=score))
    edge = StoryComparison(sole).compare("s:0", stored(first, key), stored(second, key))
    assert edge is not None and edge.score == score
    assert parent_link([edge], sole) == edge
    assert parent_link([edge, Edge(LINK, "z", 0, score)], sole) is None


def test_the_parent_is_the_best_link_ties_to_the_earliest() -> None:
    a = Edge(LINK, "a", 1, 0.9)
    b = Edge(LINK, "b", 2, 0.95)
    tie = Edge(LINK, "c", 0, 0.95)
    assert parent_link([], SETTINGS) is None
    assert parent_link([a, b], SETTINGS) == b
    assert parent_link([b, tie], SETTINGS) == tie
    assert parent_link([Edge(LINK, "low", 0, 0.01)], SETTINGS) is None  # below the threshold


def test_reference_links_follow_the_window() -> None:
    window = SETTINGS.model.window_hours
    articles = [rewrite("a", 0), rewrite("b", 1), rewrite("c", window + 0.5), rewrite("d", 3 * window)]
    links = reference_links([(to_micros(a.first_seen_at), a) for a in articles], SETTINGS)
    found = {k: (v.other_id if v else None) for k, v in links.items()}
    assert found["a"] is None and found["b"] == "a"
    assert found["c"] == "b"  # a is out of the window, b is not
    assert found["d"] is None  # beyond the window of every other


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="allowed_lateness_hours"):
        StorySettings(allowed_lateness_hours=-1)
    with pytest.raises(ValueError, match="key_bits"):
        replace(SETTINGS, key_bits=40)


def test_blocking_keys_spread_over_the_stage_keys() -> None:
    # blocking keys are "e"/"t" + 8 hex digits; 2,000 of them must fill most of 2**12 stage keys
    # (hashing their text's last bytes directly gave at most 256 stage keys)
    keys = {stage_key(f"{kind}{i * 2654435761 % 2**32:08x}", 12) for i in range(1000) for kind in "et"}
    assert len(keys) > 0.35 * 4096
    assert stage_key("e0000abcd", 0) == "s:0"
