"""Pure-function tests of story similarity (``transforms.story_similarity``) and of the story stage's
comparison and decision (``transforms.stories``): no pipeline, no spaCy."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from transforms import story_similarity as stories
from transforms.keyed import Edge, Stored
from transforms.stories import LINK, AssignStories, StoryComparison, best_link, stage_key
from transforms.story_similarity import StoryFeatures, StorySettings

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "stories" / "seed_page.json"
T0 = datetime(2025, 6, 18, 12, tzinfo=UTC)


def features(
    title: str,
    text: str = "",
    entities: tuple[tuple[str, str, int], ...] = (),
    hours: float = 0.0,
    settings: StorySettings = stories.DEFAULT_SETTINGS,
) -> StoryFeatures:
    return stories.story_features(title, text, T0 + timedelta(hours=hours), entities, settings)


@pytest.fixture(scope="module")
def seed() -> dict[str, StoryFeatures]:
    """The seed page's four articles (excerpts, with their NER output frozen in the fixture)."""
    data = json.loads(SEED.read_text(encoding="utf-8"))
    return {
        a["name"]: stories.story_features(
            a["title"],
            a["text"],
            datetime.fromisoformat(a["published_at"]),
            [(k, label, n) for k, label, n in a["entities"]],
        )
        for a in data["articles"]
    }


# A hard negative as in ECB+: the same kind of event with different people, place and date.
REID = (
    "Tara Reid checks into rehab",
    "Actress Tara Reid checked herself into Promises Treatment Center in Malibu on Tuesday, her "
    "representative Jack Ketsoyan told People magazine in 2008. Reid, 33, starred in American Pie.",
    (("tara reid", "PERSON", 2), ("reid", "PERSON", 1), ("jack ketsoyan", "PERSON", 1), ("malibu", "GPE", 1)),
)
REID_AGAIN = (
    "American Pie star Tara Reid enters Promises rehab center",
    "Tara Reid, 33, has entered the Promises Treatment Center in Malibu, her rep Jack Ketsoyan said "
    "on Tuesday. The actress asked for privacy for her family in 2008.",
    (("tara reid", "PERSON", 2), ("jack ketsoyan", "PERSON", 1), ("malibu", "GPE", 1)),
)
LOHAN = (
    "Lindsay Lohan checks into rehab at Betty Ford",
    "Actress Lindsay Lohan checked into the Betty Ford Center in Rancho Mirage on Thursday to begin a "
    "90-day court-ordered stay, her lawyer Mark Heller said in 2013. Lohan, 26, skipped rehab before.",
    (
        ("lindsay lohan", "PERSON", 2),
        ("lohan", "PERSON", 1),
        ("mark heller", "PERSON", 1),
        ("rancho mirage", "GPE", 1),
    ),
)


def test_wordfreq_rarity_works_offline_and_orders_words() -> None:
    assert stories.rarity("the") == 0.0
    assert stories.rarity("deminers") > stories.rarity("korea") > stories.rarity("said")
    assert stories.rarity("xqzvyy") == stories.ZIPF_CEILING - stories.ZIPF_UNKNOWN


def test_features_are_compact_and_normalised() -> None:
    f = features(*REID)
    assert f.terms and len(f.terms) <= stories.DEFAULT_SETTINGS.max_terms
    assert sum(w * w for _, w in f.terms) == pytest.approx(1.0, abs=1e-3)
    assert "the" not in dict(f.terms)
    keys = [k for k, _, _ in f.entities]
    assert "tara reid" in keys
    assert "reid" not in keys  # the surname is folded into the full name
    assert f.numbers == ("2008", "33")
    assert "2008" in f.dates
    assert f.time.tzinfo is not None


def test_features_need_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        stories.story_features("t", "x", datetime(2025, 1, 1), [])


def test_fold_term_and_numbers() -> None:
    assert stories.fold_term("quakes") == stories.fold_term("quake") == "quake"
    assert stories.fold_term("korea's") == "korea"
    assert stories.fold_term("countries") == "country"
    assert stories.fold_term("crisis") == "crisis"
    assert stories.salient_numbers("1,000 sappers and 5,000 workers, 2 brigades, 6.1 magnitude", 8) == (
        "1000",
        "5000",
        "6.1",
    )
    assert stories.mentioned_dates("On May 3, 2013 and Dec. 25th", 8) == ("05-03", "2013", "12-25")


def test_similarity_is_symmetric_and_bounded() -> None:
    arts = [features(*REID), features(*REID_AGAIN, hours=5), features(*LOHAN, hours=30), features("")]
    for a in arts:
        for b in arts:
            s = stories.similarity(a, b)
            assert 0.0 <= s <= 1.0
            assert s == pytest.approx(stories.similarity(b, a))
            for part in stories.similarity_parts(a, b):
                assert 0.0 <= part <= 1.0


def test_same_event_scores_above_hard_negative() -> None:
    reid, again, lohan = features(*REID), features(*REID_AGAIN), features(*LOHAN)
    assert stories.similarity(reid, again) > stories.similarity(reid, lohan) + 0.3


def test_conflict_penalty_lowers_hard_negatives_only() -> None:
    reid, again, lohan = features(*REID), features(*REID_AGAIN), features(*LOHAN)
    parts = stories.similarity_parts(reid, lohan)
    assert parts.conflict_person == pytest.approx(1.0)
    assert parts.conflict_place == pytest.approx(1.0)
    assert parts.dates == 1.0
    assert stories.similarity_parts(reid, again).conflict_person < 0.1
    calm = replace(stories.DEFAULT_SETTINGS, conflict_weight=0.0, date_weight=0.0, number_weight=0.0)
    strict = replace(calm, conflict_weight=0.3, date_weight=0.1)
    assert stories.similarity(reid, lohan, strict) < stories.similarity(reid, lohan, calm)
    assert stories.similarity(reid, again, strict) == pytest.approx(
        stories.similarity(reid, again, calm), abs=0.03
    )


def test_silence_is_not_a_conflict() -> None:
    a = features("Quake hits coast", entities=(("chile", "GPE", 1),))
    b = features("Quake hits coast, thousands flee")
    assert stories.entity_conflict(a, b, "place") == 0.0
    assert stories.date_conflict(a, b) == 0.0


def test_surname_matches_full_name_across_articles() -> None:
    a = features("x", entities=(("vincent jackson", "PERSON", 2),))
    b = features("y", entities=(("jackson", "PERSON", 3),))
    assert stories.entity_overlap(a, b) == pytest.approx(1.0)
    assert stories.entity_conflict(a, b, "person") == pytest.approx(0.0)


def test_time_term_decays() -> None:
    a, b, c = features("x"), features("x", hours=6), features("x", hours=48)
    assert stories.time_proximity(a, a, 24) == 1.0
    assert stories.time_proximity(a, b, 24) > stories.time_proximity(a, c, 24)


def test_blocking_keys_hold_top_terms_and_rare_entities() -> None:
    s = stories.DEFAULT_SETTINGS
    f = features(*REID)
    keys = stories.blocking_keys(f, s)
    assert keys == sorted(set(keys))
    terms = [k for k in keys if k.startswith("t:")]
    ents = [k for k in keys if k.startswith("e:")]
    assert len(terms) == min(s.blocking_terms, len(f.terms))
    assert {f"t:{t}" for t, _ in f.terms[: s.blocking_terms]} == set(terms)
    assert "e:jack ketsoyan" in ents and len(ents) <= s.blocking_entities
    # a rewrite of the same event shares keys; an unrelated article does not
    assert set(keys) & set(stories.blocking_keys(features(*REID_AGAIN), s))
    unrelated = features("Central bank raises interest rates", "Inflation stays high, the bank said.")
    assert not set(keys) & set(stories.blocking_keys(unrelated, s))


def test_assign_picks_best_story_above_threshold() -> None:
    reid, again, lohan = features(*REID), features(*REID_AGAIN, hours=2), features(*LOHAN, hours=1)
    s = replace(stories.DEFAULT_SETTINGS, threshold=0.3)
    story, score = stories.assign(again, [("lohan-story", lohan), ("reid-story", reid)], s)
    assert story == "reid-story"
    assert score == pytest.approx(stories.similarity(again, reid, s))
    # below the threshold: no story, but the best score is reported
    story, score = stories.assign(lohan, [("reid-story", reid)], s)
    assert story is None
    assert 0.0 <= score < s.threshold
    assert stories.assign(reid, [], s) == (None, 0.0)


def test_assign_compares_members_not_a_centroid() -> None:
    """One close member is enough with ``max``; ``top2`` needs two; ties go to the smaller id."""
    reid, again, lohan = features(*REID), features(*REID_AGAIN), features(*LOHAN)
    s = replace(stories.DEFAULT_SETTINGS, threshold=0.3, linkage="max")
    mixed = [("s1", lohan), ("s1", again)]
    assert stories.assign(reid, mixed, s)[0] == "s1"
    top2 = replace(s, linkage="top2")
    _, score = stories.assign(reid, mixed, top2)
    assert score == pytest.approx(
        (stories.similarity(reid, again, s) + stories.similarity(reid, lohan, s)) / 2
    )
    assert stories.choose_story([("b", 0.5), ("a", 0.5)], s) == ("a", 0.5)
    assert stories.choose_story([("a", 0.2), ("b", 0.5), ("b", 0.1)], top2) == ("b", 0.3)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="linkage"):
        StorySettings(linkage="centroid")
    with pytest.raises(ValueError, match="threshold"):
        StorySettings(threshold=1.5)
    with pytest.raises(ValueError, match="conflict_weight"):
        StorySettings(conflict_weight=-0.1)


def test_seed_pair_is_one_story_and_unrelated_articles_are_not(seed: dict[str, StoryFeatures]) -> None:
    s = stories.DEFAULT_SETTINGS
    pair = stories.similarity(seed["toi"], seed["firstpost"], s)
    unrelated = [
        stories.similarity(seed[a], seed[b], s) for a in ("toi", "firstpost") for b in ("putin", "g7")
    ]
    assert pair >= s.threshold
    assert max(unrelated) < s.threshold
    assert pair - max(unrelated) >= 0.2
    assert stories.assign(seed["firstpost"], [("nk", seed["toi"]), ("putin", seed["putin"])], s)[0] == "nk"
    assert stories.assign(seed["g7"], [("nk", seed["toi"]), ("putin", seed["putin"])], s)[0] is None
    shared = set(stories.blocking_keys(seed["toi"], s)) & set(stories.blocking_keys(seed["firstpost"], s))
    assert shared  # the pair meets as candidates


# ----------------------------------------------------------------------------------------------
# The stage's pure parts: state encoding, one blocking key's links, the gather's choice


def test_state_encoding_is_exact_and_compact(seed: dict[str, StoryFeatures]) -> None:
    for f in seed.values():
        data = stories.encode_features(f)
        assert stories.decode_features(data) == f
        assert len(data) < 1000


def _entry(article_id: str, f: StoryFeatures, hours: float, key: str) -> Stored:
    return Stored(
        article_id,
        round((T0 + timedelta(hours=hours)).timestamp() * 1e6),
        key.encode(),
        stories.encode_features(f),
    )


def test_a_pair_sharing_several_keys_is_scored_in_the_first_only() -> None:
    s = replace(stories.DEFAULT_SETTINGS, threshold=0.3)
    reid, again = features(*REID), features(*REID_AGAIN)
    shared = sorted(set(stories.blocking_keys(reid, s)) & set(stories.blocking_keys(again, s)))
    assert len(shared) >= 2
    comparison = StoryComparison(s)
    edges = {
        key: comparison.compare(
            stage_key(key, s.key_bits), _entry("r1", reid, 0, key), _entry("r2", again, 2, key)
        )
        for key in shared
    }
    first = edges[shared[0]]
    assert first is not None and (first.kind, first.other_id) == (LINK, "r1")
    assert first.score == pytest.approx(stories.similarity(reid, again, s))
    assert all(edges[key] is None for key in shared[1:])


def test_a_link_needs_the_threshold() -> None:
    s = replace(stories.DEFAULT_SETTINGS, threshold=0.99)
    reid, again = features(*REID), features(*REID_AGAIN)
    key = min(set(stories.blocking_keys(reid, s)) & set(stories.blocking_keys(again, s)))
    assert StoryComparison(s).compare("s:0", _entry("r1", reid, 0, key), _entry("r2", again, 2, key)) is None


def test_the_parent_is_the_best_link() -> None:
    a = Edge(LINK, "a", 1, 0.6)
    b = Edge(LINK, "b", 2, 0.8)
    tie = Edge(LINK, "c", 0, 0.8)
    assert best_link([]) is None
    assert best_link([a, b]) == b
    assert best_link([b, tie]) == tie  # same score: the earlier member


def test_the_stage_needs_best_member_linkage() -> None:
    with pytest.raises(ValueError, match="linkage"):
        AssignStories(replace(stories.DEFAULT_SETTINGS, linkage="top2"))
