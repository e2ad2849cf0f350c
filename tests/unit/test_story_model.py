"""The story similarity model (``transforms.story_model``): vectors, keys, scores, decisions."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import make_article
from transforms import story_model as sm
from transforms import story_vectors as sv
from transforms.records import Article, Entity
from transforms.story_model import StoryModelSettings
from transforms.story_vectors import StoryVector

FIXTURE = Path(__file__).parents[1] / "fixtures" / "stories" / "seed_page.json"
SETTINGS = StoryModelSettings()
T0 = datetime(2025, 6, 18, 12, tzinfo=UTC)


def seed_articles() -> dict[str, Article]:
    """The seed page's four articles with their frozen NER output (see tests/fixtures/NOTICE)."""
    out = {}
    for a in json.loads(FIXTURE.read_text(encoding="utf-8"))["articles"]:
        when = datetime.fromisoformat(a["published_at"])
        entities = tuple(Entity(k, k, label, n) for k, label, n in a["entities"])
        out[a["name"]] = make_article(
            a["text"], f"https://ex.org/{a['name']}", title=a["title"], published_at=when, entities=entities
        )
    return out


def article(name: str, title: str, text: str, hours: float = 0.0, **changes: object) -> Article:
    when = T0 + timedelta(hours=hours)
    return make_article(text, f"https://ex.org/{name}", title=title, published_at=when, **changes)


def vectors(articles: dict[str, Article]) -> list[tuple[str, float, StoryVector]]:
    out = []
    for name, a in articles.items():
        v = sm.story_vector(a, SETTINGS)
        out.append((name, v.ts, v))
    return out


# ----------------------------------------------------------------------------------------------
# Settings and weights


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
        ({"sole_threshold": 1.5}, "sole_threshold"),
        ({"threshold": 0.5, "sole_threshold": 0.6}, "sole_threshold must not exceed"),
        ({"window_hours": 0}, "window_hours"),
        ({"blocking_entities": -1}, "blocking_entities"),
        ({"blocking_terms": sv.MAX_KEYS + 1}, "blocking_terms"),
        ({"blocking_entities": 0, "blocking_terms": 0}, "at least 1"),
    ],
)
def test_settings_refuse_values_out_of_range(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StoryModelSettings(**changes)  # type: ignore[arg-type]


def test_the_packaged_weights_load_and_record_how_they_were_trained() -> None:
    weights = SETTINGS.weights
    assert weights.version.startswith(f"{sm.MODEL_FORMAT}.")
    assert 0 < weights.threshold < 1
    assert SETTINGS.join_threshold == weights.threshold
    assert StoryModelSettings(threshold=0.3).join_threshold == 0.3
    assert 0 < weights.sole_join_threshold <= weights.threshold
    assert SETTINGS.sole_join_threshold == weights.sole_join_threshold
    # a threshold given alone is the only one; the sole threshold never exceeds the join threshold
    assert StoryModelSettings(threshold=0.3).sole_join_threshold == 0.3
    assert StoryModelSettings(threshold=0.6, sole_threshold=0.2).sole_join_threshold == 0.2
    assert StoryModelSettings(sole_threshold=1.0).sole_join_threshold == weights.threshold
    record = weights.record
    assert record["trained_by"] == "python -m benchmarks.train_story_model"
    assert set(record["data"]) >= {"ecbplus", "gva", "entities"}
    assert "held out" in record["data"]["gva"]["split"]


def test_a_weights_file_of_another_version_format_or_feature_is_refused(tmp_path: Path) -> None:
    data = SETTINGS.weights.to_json()
    good, old, odd = tmp_path / "good.json", tmp_path / "old.json", tmp_path / "odd.json"
    good.write_text(json.dumps(data), encoding="utf-8")
    old.write_text(json.dumps({**data, "format": 99}), encoding="utf-8")
    odd.write_text(json.dumps({**data, "features": [*data["features"][:-1], "no_such_feature"]}))
    assert sm.load_weights(str(good)).version == data["version"]
    with pytest.raises(ValueError, match=r"not 0\.0"):
        sm.load_weights(str(good), "0.0")
    with pytest.raises(ValueError, match="format"):
        sm.load_weights(str(old))
    with pytest.raises(ValueError, match="no_such_feature"):
        sm.load_weights(str(odd))


# ----------------------------------------------------------------------------------------------
# Vectors


def test_vector_bytes_round_trip_and_are_deterministic() -> None:
    for a in seed_articles().values():
        v = sm.story_vector(a, SETTINGS)
        data = v.to_bytes()
        assert StoryVector.from_bytes(data) == v
        assert sm.story_vector(a, SETTINGS).to_bytes() == data
        assert len(data) < 1200


def test_a_vector_holds_no_text() -> None:
    a = seed_articles()["toi"]
    data = sm.story_vector(a, SETTINGS).to_bytes()
    for word in ("korea", "Korea", "deminers", "Kursk", "Pyongyang"):
        assert word.encode() not in data


@pytest.mark.parametrize("data", [b"", b"\x01\x02", b"\x07" + bytes(40)])
def test_from_bytes_refuses_what_is_not_a_vector(data: bytes) -> None:
    with pytest.raises(ValueError, match="vector"):
        StoryVector.from_bytes(data)


def test_from_bytes_refuses_a_truncated_or_padded_vector() -> None:
    data = sm.story_vector(seed_articles()["toi"], SETTINGS).to_bytes()
    for broken in (data[:-3], data + b"\x00"):
        with pytest.raises(ValueError, match="vector"):
            StoryVector.from_bytes(broken)


def test_the_vector_time_is_published_else_first_seen() -> None:
    seen = T0 + timedelta(hours=5)
    published = article("a", "Quake hits", "A quake hit.", first_seen_at=seen)
    assert sm.story_vector(published, SETTINGS).ts == T0.timestamp()
    unpublished = replace(published, published_at=None)
    assert sm.story_vector(unpublished, SETTINGS).ts == seen.timestamp()


def test_an_article_without_title_or_entities_still_has_a_vector() -> None:
    a = make_article("Short brief.", "https://ex.org/brief", title=None, entities=None)
    v = sm.story_vector(a, SETTINGS)
    assert StoryVector.from_bytes(v.to_bytes()) == v
    assert sm.link_score(v, v, SETTINGS) >= 0.0


def test_plurals_fold_only_into_commoner_singulars() -> None:
    assert [sv.fold(w) for w in ("cities", "shootings", "officers", "korea's", "churches")] == [
        "city",
        "shooting",
        "officer",
        "korea",
        "church",
    ]
    assert [sv.fold(w) for w in ("texas", "thomas", "species", "kansas", "witness")] == [
        "texas",
        "thomas",
        "species",
        "kansas",
        "witness",
    ]


def test_dates_and_numbers_named_in_the_text() -> None:
    text = "On March 3, 2009, a 20-year-old and 5,000 others; again on Dec. 14th 2008 (27/09/2013)."
    assert sv.mentioned_dates(text, 8) == (303, 2009, 1214, 2008, 2013)
    numbers = sv.salient_numbers(text, 8)
    assert numbers == tuple(sv.term_hash(n) for n in ("age:20", "n:5000", "n:27", "n:9"))


def test_a_person_named_by_surname_counts_as_the_full_name_in_the_same_article() -> None:
    weights = sv.entity_weights(
        [("tara reid", "PERSON", 1), ("reid", "PERSON", 3), ("promises", "ORG", 1)],
        "Reid in rehab",
        "en",
        2.0,
    )
    assert set(weights) == {"tara reid", "promise"}
    assert weights["tara reid"][0] == sv.PERSON


# ----------------------------------------------------------------------------------------------
# Keys and scores


def test_blocking_keys_are_few_sorted_and_shared_by_the_seed_pair() -> None:
    v = {name: sm.story_vector(a, SETTINGS) for name, a in seed_articles().items()}
    for x in v.values():
        keys = sm.blocking_keys(x, SETTINGS)
        assert keys == sorted(set(keys))
        assert 0 < len(keys) <= SETTINGS.blocking_entities + SETTINGS.blocking_terms
    assert set(sm.blocking_keys(v["toi"], SETTINGS)) & set(sm.blocking_keys(v["firstpost"], SETTINGS))
    fewer = StoryModelSettings(blocking_entities=1, blocking_terms=0)
    assert len(sm.blocking_keys(v["toi"], fewer)) == 1


def test_link_score_is_symmetric_bit_for_bit_and_in_unit_interval() -> None:
    v = [x for _, _, x in vectors(seed_articles())]
    for a in v:
        for b in v:
            score = sm.link_score(a, b, SETTINGS)
            assert 0.0 <= score <= 1.0
            assert score == sm.link_score(b, a, SETTINGS)
            decoded = sm.link_score(StoryVector.from_bytes(b.to_bytes()), a, SETTINGS)
            assert decoded == score


def test_the_seed_pair_scores_above_the_threshold_and_unrelated_pairs_below() -> None:
    """Unrelated pairs stay below even the sole threshold (an only candidate's)."""
    v = {name: x for name, _, x in vectors(seed_articles())}
    assert sm.link_score(v["toi"], v["firstpost"], SETTINGS) >= SETTINGS.join_threshold
    for a in ("toi", "firstpost"):
        for b in ("putin", "g7"):
            assert sm.link_score(v[a], v[b], SETTINGS) < SETTINGS.sole_join_threshold


def test_time_apart_lowers_the_score() -> None:
    a = seed_articles()["toi"]
    b = seed_articles()["firstpost"]
    close = sm.link_score(sm.story_vector(a, SETTINGS), sm.story_vector(b, SETTINGS), SETTINGS)
    assert b.published_at is not None
    later = replace(b, published_at=b.published_at + timedelta(days=6))
    far = sm.link_score(sm.story_vector(a, SETTINGS), sm.story_vector(later, SETTINGS), SETTINGS)
    assert far < close


# ----------------------------------------------------------------------------------------------
# Decision, reference and roots


def test_choose_parent_takes_the_best_candidate_when_it_reaches_the_threshold() -> None:
    s = StoryModelSettings(threshold=0.5)
    assert sm.choose_parent([], s) == (None, 0.0)
    assert sm.choose_parent([("a", 1.0, 0.4), ("b", 2.0, 0.49)], s) == (None, 0.49)
    assert sm.choose_parent([("a", 1.0, 0.4), ("b", 2.0, 0.7), ("c", 3.0, 0.6)], s) == ("b", 0.7)


def test_choose_parent_takes_an_only_candidate_at_the_sole_threshold() -> None:
    s = StoryModelSettings(threshold=0.8, sole_threshold=0.3)
    assert sm.choose_parent([("a", 1.0, 0.35)], s) == ("a", 0.35)
    assert sm.choose_parent([("a", 1.0, 0.25)], s) == (None, 0.25)
    # candidates below the sole threshold do not count; two above it need the join threshold
    assert sm.choose_parent([("a", 1.0, 0.35), ("b", 2.0, 0.1)], s) == ("a", 0.35)
    assert sm.choose_parent([("a", 1.0, 0.35), ("b", 2.0, 0.5)], s) == (None, 0.5)
    assert sm.choose_parent([("a", 1.0, 0.35), ("b", 2.0, 0.85)], s) == ("b", 0.85)
    assert sm.choose_parent([("a", 1.0, 0.4), ("b", 2.0, 0.4)], s) == (None, 0.4)


def test_choose_parent_ties_go_to_the_earliest_whatever_the_order() -> None:
    s = StoryModelSettings(threshold=0.5)
    candidates = [("b", 2.0, 0.8), ("a", 2.0, 0.8), ("c", 1.0, 0.8), ("d", 0.5, 0.3)]
    for seed in range(5):
        shuffled = candidates[:]
        random.Random(seed).shuffle(shuffled)
        assert sm.choose_parent(shuffled, s) == ("c", 0.8)
    assert sm.choose_parent([("b", 2.0, 0.8), ("a", 2.0, 0.8)], s) == ("a", 0.8)


def test_reference_assign_links_the_seed_pair_whatever_the_input_order() -> None:
    items = vectors(seed_articles())
    expected = None
    for seed in range(4):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        parents = sm.reference_assign(shuffled, SETTINGS)
        if expected is None:
            expected = parents
        assert parents == expected
    assert expected is not None
    assert expected["firstpost"][0] == "toi"  # toi is 4 hours earlier
    assert expected["toi"][0] is None and expected["putin"][0] is None and expected["g7"][0] is None
    roots = sm.story_roots(expected)
    assert roots == {"toi": "toi", "firstpost": "toi", "putin": "putin", "g7": "g7"}


def test_reference_assign_compares_only_within_the_window() -> None:
    arts = seed_articles()
    toi_time = arts["toi"].published_at
    assert toi_time is not None
    late = replace(arts["firstpost"], published_at=toi_time + timedelta(hours=10))
    items = vectors({"toi": arts["toi"], "firstpost": late})
    assert sm.reference_assign(items, StoryModelSettings(window_hours=12))["firstpost"][0] == "toi"
    assert sm.reference_assign(items, StoryModelSettings(window_hours=9)) == {
        "toi": (None, 0.0),
        "firstpost": (None, 0.0),
    }


def test_reference_assign_refuses_an_article_given_twice() -> None:
    (name, ts, v), *_ = vectors(seed_articles())
    with pytest.raises(ValueError, match="twice"):
        sm.reference_assign([(name, ts, v), (name, ts, v)], SETTINGS)


def test_story_roots_resolve_chains_to_their_first_article() -> None:
    parents: dict[str, tuple[str | None, float]] = {
        "a": (None, 0.0),
        "b": ("a", 0.9),
        "c": ("b", 0.8),
        "d": ("c", 0.95),
        "x": (None, 0.1),
        "y": ("x", 0.9),
    }
    assert sm.story_roots(parents) == {"a": "a", "b": "a", "c": "a", "d": "a", "x": "x", "y": "x"}


def test_story_roots_refuse_a_parent_that_is_not_an_article_or_a_cycle() -> None:
    with pytest.raises(ValueError, match="unknown"):
        sm.story_roots({"a": ("zz", 0.9)})
    with pytest.raises(ValueError, match="cycle"):
        sm.story_roots({"a": ("b", 0.9), "b": ("a", 0.9)})


@pytest.mark.parametrize("language", ["de", "xx", "ja", "", None])
def test_any_language_code_gives_a_vector(language: str | None) -> None:
    a = seed_articles()["toi"]
    v = sm.story_vector(replace(a, language=language), SETTINGS)
    assert StoryVector.from_bytes(v.to_bytes()) == v
    assert v.body.hashes
    assert 0.0 <= sm.link_score(v, v, SETTINGS) <= 1.0
