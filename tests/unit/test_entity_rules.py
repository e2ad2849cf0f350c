"""The rule layer over the tagger's mentions (transforms/entity_rules.py), as plain functions."""

from __future__ import annotations

import pytest

from transforms.entity_rules import (
    Mention,
    RuleSettings,
    apply_rules,
    fold_keys,
    is_scored,
    load_rule_settings,
    person_parts,
    relabel,
    trim,
)
from transforms.records import Entity

RULES = RuleSettings(
    places=frozenset({"kursk", "pyongyang", "leeds", "essex", "kent", "england", "russia"}),
    countries=frozenset({"england", "russia"}),
)


@pytest.mark.parametrize(
    ("words", "label", "kept"),
    [
        (["the", "Kremlin"], "ORG", ["Kremlin"]),
        (["The"], "ORG", ["The"]),  # nothing would be left: kept as it is
        (["Russia", "'s"], "GPE", ["Russia"]),
        (["Leicestershire", "296"], "ORG", ["Leicestershire"]),
        (["H.", "Morris", "69"], "PERSON", ["H.", "Morris"]),
        (["Kent", "108-3"], "GPE", ["Kent"]),
        (
            ["Hampshire", "232", "and"],
            "FAC",
            ["Hampshire", "232", "and"],
        ),  # a connector only goes with a number
        (["Hampshire", "and", "232"], "FAC", ["Hampshire"]),
        (["Apollo", "11"], "PRODUCT", ["Apollo", "11"]),  # product names keep their numbers
        (["World", "War", "2"], "EVENT", ["World", "War", "2"]),
        (["1996-08-22"], "GPE", []),
        (["G7"], "ORG", ["G7"]),
    ],
)
def test_trim(words: list[str], label: str, kept: list[str]) -> None:
    start, end = trim(words, label)
    assert words[start:end] == kept


def test_person_parts_are_the_last_words_of_full_names() -> None:
    mentions = [
        Mention("Kim Jong Un", "PERSON"),
        Mention("J. Smith", "PERSON"),
        Mention("Shoigu", "PERSON"),
        Mention("Sergei Shoigu", "ORG"),
        Mention("Apple AirPods", "PERSON"),  # a mis-tagged product: "Apple" must not become a person
        Mention("Anne B.", "PERSON"),
    ]
    assert person_parts(mentions) == {"un", "smith", "airpods"}


def test_a_part_of_a_full_name_is_that_person() -> None:
    mentions = [Mention("Sergei Shoigu", "PERSON"), Mention("Shoigu", "ORG"), Mention("Shoigu", "PERSON")]
    assert relabel(mentions, RULES) == ["PERSON", "PERSON", "PERSON"]
    # A place stays a place even when a person shares its name ("George Washington", "Washington").
    places = [Mention("Jack Leeds", "PERSON"), Mention("Leeds", "GPE")]
    assert relabel(places, RULES) == ["PERSON", "GPE"]


def test_a_known_place_tagged_as_a_product_is_a_place() -> None:
    mentions = [
        Mention("Kursk", "PRODUCT"),
        Mention("Pyongyang", "WORK_OF_ART"),
        Mention("Atlantis", "PRODUCT"),
    ]
    assert relabel(mentions, RULES) == ["GPE", "GPE", "PRODUCT"]


def test_places_followed_by_scores_are_teams_but_countries_stay_places() -> None:
    mentions = [
        Mention("Essex", "GPE", after="372"),
        Mention("Kent", "PERSON", after="108-3"),  # a known place, mistaken for a person
        Mention("England", "GPE", after="326"),
        Mention("Essex", "GPE", before="beat"),  # the same name elsewhere in the article
        Mention("Alan Shearer", "PERSON", after="2"),
        Mention("Wi-Fi", "PRODUCT", after="6"),  # neither a team nor a sign of a results table
        Mention("Leeds", "ORG"),
    ]
    assert relabel(mentions, RULES) == ["ORG", "ORG", "GPE", "ORG", "PERSON", "PRODUCT", "ORG"]
    assert relabel(mentions[-2:], RULES) == ["PRODUCT", "ORG"]


def test_one_score_is_no_results_table() -> None:
    # "Leeds 3" once, in ordinary news text, is not enough to call Leeds a team.
    mentions = [Mention("Leeds", "GPE", after="3"), Mention("Russia", "GPE")]
    assert relabel(mentions, RULES) == ["GPE", "GPE"]


def test_organisations_keep_their_numbers_outside_results_tables() -> None:
    channel = Mention("Channel", "ORG", after="4", full_text="Channel 4", full_end=2)
    news = apply_rules([channel, Mention("Leeds", "GPE")], RULES)
    assert [(m.text, m.label, m.end) for m in news] == [("Channel 4", "ORG", 2), ("Leeds", "GPE", 0)]
    table = [
        Mention("Essex", "ORG", after="372", start=0, end=1, full_text="Essex 372", full_end=2),
        Mention("Kent", "GPE", after="108-3", full_text="Kent 108-3", full_end=2),
    ]
    assert [(m.text, m.label, m.end) for m in apply_rules(table, RULES)] == [
        ("Essex", "ORG", 1),
        ("Kent", "ORG", 0),
    ]
    # A person or a place never gets its number back.
    player = Mention("Baker", "PERSON", after="6", full_text="Baker 6", full_end=2)
    assert apply_rules([player], RULES)[0].text == "Baker"


@pytest.mark.parametrize(
    ("mention", "scored"),
    [
        (Mention("Leeds", "GPE", after="3"), True),
        (Mention("Leeds", "GPE", after="2-1"), True),
        (Mention("Leeds", "GPE", before="v"), True),
        (Mention("Leeds", "GPE", after="vs."), True),
        (Mention("London", "GPE", after="2012"), False),  # a year, not a score
        (Mention("Leeds", "GPE", after="said"), False),
    ],
)
def test_is_scored(mention: Mention, scored: bool) -> None:
    assert is_scored(mention) is scored


def test_short_person_names_take_the_key_of_their_one_full_name() -> None:
    entities = (
        Entity("Kim", "kim", "PERSON", 10),
        Entity("Kim Jong Un", "kim jong un", "PERSON", 4),
        Entity("Shoigu", "shoigu", "PERSON", 7),
        Entity("Sergei Shoigu", "sergei shoigu", "PERSON", 3),
        Entity("Kim", "kim", "ORG", 1),  # only persons are folded
        Entity("Jong Un", "jong un", "PERSON", 1),  # the last words
        Entity("Jong", "jong", "PERSON", 1),  # through "Jong Un"
        Entity("Alan", "alan", "PERSON", 1),  # no full name: keeps its key
    )
    assert [e.key for e in fold_keys(entities)] == [
        "kim jong un",
        "kim jong un",
        "sergei shoigu",
        "sergei shoigu",
        "kim",
        "kim jong un",
        "kim jong un",
        "alan",
    ]
    # Two full names to choose from: ambiguous, the short one keeps its own key.
    ambiguous = (
        Entity("Kim", "kim", "PERSON", 2),
        Entity("Kim Jong Un", "kim jong un", "PERSON", 1),
        Entity("Kim Yo Jong", "kim yo jong", "PERSON", 1),
    )
    assert [e.key for e in fold_keys(ambiguous)] == ["kim", "kim jong un", "kim yo jong"]
    assert fold_keys(()) == ()


def test_the_bundled_gazetteer() -> None:
    rules = load_rule_settings()
    assert {"kursk", "pyongyang", "moscow", "north korea", "england", "washington"} <= rules.places
    assert {"russia", "north korea", "england", "united states"} <= rules.countries
    assert "leeds" not in rules.countries and rules.countries <= rules.places
    assert "new" not in rules.places and "the" not in rules.places
