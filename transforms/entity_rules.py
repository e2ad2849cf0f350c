"""Rules over a tagger's entity mentions that fix its systematic errors on news text.

Pure functions, no spaCy: ``TagEntities`` and ``benchmarks/ner_conll.py`` call them on what the
model found, so the same rules are measured and shipped.

- ``trim`` narrows a mention to the name: a leading "the", a trailing possessive and, for
  names (PERSON, ORG, GPE, LOC, NORP, FAC), trailing numbers ("Leicestershire 296",
  "H. Morris 69") are not part of it.
- ``relabel`` reads all the mentions of one article together: a word that is the surname of a
  person's full name in the article is that person (``Shoigu`` after ``Sergei Shoigu``), a known
  place tagged as a product or a work is a place (``Kursk`` is a region and a city, not the
  submarine), and a place name followed by scores in a results table is a team.
- ``apply_rules`` is ``relabel`` plus one more reading of the article: an organisation or a
  facility keeps its trailing number ("Channel 4", "Terminal 5") unless the article is a
  results table, where that number is a score.
- ``fold_keys`` gives a person's short mentions the key of the one full name they belong to in
  the article (``Kim`` → ``kim jong un``), so they group together across articles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources

from transforms.records import Entity

# Labels of names: such a mention does not end in a number, except that an organisation or a
# facility may ("Channel 4", "Terminal 5"): theirs is cut only in results tables.
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC"})
NUMBERED_NAMES = frozenset({"ORG", "FAC"})
PLACES_FILE = "data/places.tsv"

_NUMBER = re.compile(r"^[+-]?\d[\d.,:/-]*$")  # 69, 4-28, 108-3, 1996-08-22, 2.5
_CONNECTOR = frozenset({"and", "&", "-", "--", "/", ",", "(", "of", "at", "v", "vs", "vs."})
_POSSESSIVE = frozenset({"'s", "'", "\u2019s", "\u2019", "'S"})
_INITIAL = re.compile(r"^[A-Z]\.?$")


def trim(words: Sequence[str], label: str, numbers: bool = True) -> tuple[int, int]:
    """The part ``words[start:end]`` of a mention that is the name (``start == end``: none).

    A leading "the" and a trailing possessive go for every label; for ``NAME_LABELS`` (unless
    ``numbers`` is false) trailing numbers go too, with the connector a number leaves in front of
    it ("Hampshire and 232").
    """
    start, end = 0, len(words)
    if end - start > 1 and words[start].casefold() == "the":
        start += 1
    while end > start and words[end - 1] in _POSSESSIVE:
        end -= 1
    if numbers and label in NAME_LABELS:
        while end > start and _NUMBER.match(words[end - 1]):
            end -= 1
            while end > start and words[end - 1].casefold() in _CONNECTOR:
                end -= 1
    return start, end


@dataclass(frozen=True)
class Mention:
    """One entity mention as the model tagged it, after ``trim``.

    ``start``/``end`` are its token offsets in its text; ``full_text``/``full_end`` are the same
    mention with the trailing numbers ``trim`` cut ("" / 0 when it cut none).
    """

    text: str
    label: str
    before: str = ""  # the word just before the mention ("" at the start of a text)
    after: str = ""  # the word just after it (the first number cut, if any)
    start: int = 0
    end: int = 0
    full_text: str = ""
    full_end: int = 0

    @property
    def words(self) -> list[str]:
        return self.text.split()


@dataclass(frozen=True)
class RuleSettings:
    """What ``relabel`` may change.  ``places`` and ``countries`` hold casefolded names."""

    places: frozenset[str]
    # Labels a known place name may be corrected from.
    place_from: frozenset[str] = frozenset({"PRODUCT", "WORK_OF_ART", "LAW"})
    # Labels a person's surname may be corrected from.
    person_from: frozenset[str] = frozenset({"ORG", "PRODUCT", "WORK_OF_ART", "FAC", "LAW", "EVENT"})
    # Country names: a national side keeps its place label (as in OntoNotes and CoNLL).
    countries: frozenset[str] = frozenset()
    # Labels a place name acting as a sports team may be corrected from (and PERSON for a
    # known place).
    team_from: frozenset[str] = frozenset({"GPE", "LOC"})
    # How many names followed by a score an article needs before they count as teams, and the
    # labels such a name may have ("Wi-Fi 6" and "Thunderbolt 3" are not results).
    min_scored: int = 2
    scored_from: frozenset[str] = frozenset({"GPE", "LOC", "ORG", "PERSON"})


def person_parts(mentions: Iterable[Mention]) -> set[str]:
    """Last words (casefolded) of the multi-word PERSON mentions: the surnames ("Shoigu" of
    "Sergei Shoigu").  Not first words: a mis-tagged "Apple CEO Tim Cook" would make "Apple" one."""
    parts: set[str] = set()
    for mention in mentions:
        words = mention.words
        if mention.label == "PERSON" and len(words) > 1:
            word = words[-1]
            if not _INITIAL.match(word) and any(char.isalpha() for char in word):
                parts.add(word.casefold())
    return parts


def load_rule_settings() -> RuleSettings:
    """The rules with the bundled gazetteer (``transforms/data/places.tsv``, GeoNames data:
    countries, US states, continents and cities of at least 100,000 people)."""
    text = resources.files("transforms").joinpath(PLACES_FILE).read_text(encoding="utf-8")
    places, countries = set(), set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, kind = line.split("\t")
            places.add(name.casefold())
            if kind == "country":
                countries.add(name.casefold())
    return RuleSettings(places=frozenset(places), countries=frozenset(countries))


def is_place(text: str, settings: RuleSettings) -> bool:
    return " ".join(text.split()).casefold() in settings.places


_SCORE = re.compile(r"^\d{1,3}(?:-\d{1,3})?$")  # 4, 296, 4-28, 108-3; not a year
_VERSUS = frozenset({"v", "v.", "vs", "vs."})


def is_scored(mention: Mention) -> bool:
    """Followed by a score or a standings figure, or next to "v" (a fixture)."""
    return bool(_SCORE.match(mention.after)) or mention.after in _VERSUS or mention.before in _VERSUS


def scored_names(mentions: Iterable[Mention], settings: RuleSettings) -> set[str]:
    """Names (casefolded) of places, teams or people followed by a score in the article."""
    return {m.text.casefold() for m in mentions if m.label in settings.scored_from and is_scored(m)}


def relabel(mentions: Sequence[Mention], settings: RuleSettings) -> list[str]:
    """A label for each of one article's mentions, in order (see the module docstring)."""
    parts = person_parts(mentions)
    scored = scored_names(mentions, settings)
    results = len(scored) >= settings.min_scored
    labels = []
    for mention in mentions:
        label = mention.label
        folded = mention.text.casefold()
        place = folded not in parts and is_place(mention.text, settings)
        if label in settings.person_from and folded in parts:
            label = "PERSON"
        elif (
            results
            and folded in scored
            and folded not in settings.countries
            and (label in settings.team_from or (label == "PERSON" and place))
        ):
            label = "ORG"
        elif label in settings.place_from and place:
            label = "GPE"
        labels.append(label)
    return labels


def apply_rules(mentions: Sequence[Mention], settings: RuleSettings) -> list[Mention]:
    """One article's mentions with ``relabel``'s labels; an ORG or FAC mention whose trailing
    numbers ``trim`` cut gets them back unless the article is a results table."""
    results = len(scored_names(mentions, settings)) >= settings.min_scored
    out = []
    for mention, label in zip(mentions, relabel(mentions, settings), strict=True):
        if mention.full_text and label in NUMBERED_NAMES and not results:
            mention = replace(mention, text=mention.full_text, end=mention.full_end)
        out.append(replace(mention, label=label))
    return out


def fold_keys(entities: Sequence[Entity]) -> tuple[Entity, ...]:
    """Entities whose PERSON key is the first or last words of longer PERSON keys of the same
    article take the key of the one full name those lead to (``kim`` → ``kim jong un``, and
    ``jong`` → ``jong un`` → ``kim jong un``); with two full names to choose from, or none, an
    entity keeps its key."""
    persons = {tuple(e.key.split()) for e in entities if e.label == "PERSON"}
    roots: dict[tuple[str, ...], tuple[str, ...]] = {}

    def root(words: tuple[str, ...]) -> tuple[str, ...]:
        if words not in roots:
            n = len(words)
            owners = {w for w in persons if len(w) > n and (w[:n] == words or w[-n:] == words)}
            found = {root(owner) for owner in owners}
            roots[words] = found.pop() if len(found) == 1 else words
        return roots[words]

    return tuple(
        replace(e, key=" ".join(root(tuple(e.key.split())))) if e.label == "PERSON" else e for e in entities
    )
