"""Story vectors, pure functions: the compact summary of one article the story model compares.

A ``StoryVector`` holds, for one article, sparse channels (after Miranda et al., EMNLP 2018,
"Multilingual Clustering of Streaming News") of TF-IDF weights of hashed terms: title words,
body words, word stems (first ``STEM_CHARS`` letters) and named entities (a person by surname),
each L2-normalised and quantised to one byte, plus the salient numbers (ages, counts,
addresses), the dates named, the keys rare enough to block on and the article's time
(published, else first seen). IDF comes from the fixed ``wordfreq`` table, never from the
corpus, so a vector is the same on every worker and at any time. ``VectorShape`` (part of a
trained model) says how many features of each channel are kept.

Invariants: a vector is a deterministic function of the article and the shape;
``StoryVector.from_bytes(v.to_bytes()) == v``; a vector holds no text.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple

from wordfreq import zipf_frequency

from transforms.records import Article

VECTOR_FORMAT = 1
STEM_CHARS = 5
MAX_KEYS = 8  # blocking keys of each kind kept in a vector
# Zipf frequency (log10 per billion words) at and above which a word carries no weight; a word
# the table does not know gets ``ZIPF_UNKNOWN`` (misspellings, rare names: very rare).
ZIPF_CEILING = 6.0
ZIPF_UNKNOWN = 1.0

# Entity labels (spaCy / OntoNotes) grouped; other labels are ignored.
GROUPS: Mapping[str, int] = {
    "PERSON": 0,
    "GPE": 1,
    "LOC": 1,
    "FAC": 1,
    "ORG": 2,
    "NORP": 3,
    "EVENT": 3,
    "PRODUCT": 3,
    "WORK_OF_ART": 3,
    "LAW": 3,
}
PERSON, PLACE, ORG, OTHER = range(4)

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_YEAR = re.compile(r"(?<![\w.,])(19[5-9]\d|20[0-3]\d)(?!\w|[.,]\d)")
_MONTHS = {
    name: k + 1
    for k, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_MONTH_DAY = re.compile(
    r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(-year-old)?(?![\w])")


@dataclass(frozen=True)
class VectorShape:
    """How many features of each channel a vector keeps (part of the trained model)."""

    title_terms: int = 16
    body_terms: int = 32
    stems: int = 32
    entities: int = 16
    numbers: int = 12
    dates: int = 8
    body_words: int = 600  # words of the text read
    title_boost: float = 2.0  # entity weight when it is named in the title
    key_max_zipf: float = 4.5  # blocking keys: words at most this common (wordfreq Zipf)


WEIGHT_SCALE = 255


class Channel(NamedTuple):
    """A sparse vector: term hashes, heaviest first, and their weights (one byte each, in
    1/255 of the L2-normalised weight; zeros dropped)."""

    hashes: tuple[int, ...]
    weights: bytes

    def lookup(self) -> dict[int, int]:
        """``hash -> weight``."""
        return dict(zip(self.hashes, self.weights, strict=True))

    def norm(self) -> float:
        return math.hypot(*self.weights) or 1.0


EMPTY = Channel((), b"")


@lru_cache(maxsize=256)  # one probe per language code: a memo, not state
def table_language(language: str | None) -> str | None:
    """The ``wordfreq`` table to look words of ``language`` up in: the code itself if its table
    works here, else None (no table, or one that needs a tokeniser not installed, such as
    Japanese's MeCab); None as input means English."""
    code = (language or "en").strip().lower()
    try:
        zipf_frequency("the", code)
    except Exception:  # LookupError, LanguageTagError, ModuleNotFoundError, ...: no usable table
        return None
    return code


def zipf(word: str, language: str | None) -> float:
    """``wordfreq``'s Zipf frequency of ``word`` (0 when unknown, and for every word of a
    language without a usable table)."""
    code = table_language(language)
    return zipf_frequency(word, code) if code is not None else 0.0


@lru_cache(maxsize=1 << 17)  # pure function of the word: a memo of wordfreq lookups
def rarity(word: str, language: str = "en") -> float:
    """IDF-like weight of a lower-case word from ``wordfreq``, in [0, ZIPF_CEILING - ZIPF_UNKNOWN]."""
    frequency = zipf(word, language)
    return max(0.0, ZIPF_CEILING - (frequency if frequency > 0 else ZIPF_UNKNOWN))


@lru_cache(maxsize=1 << 17)  # pure function of the string
def term_hash(term: str) -> int:
    """A stable 32-bit hash (the same in every process, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "big")


@lru_cache(maxsize=1 << 17)  # pure function of the word
def fold(word: str, language: str = "en") -> str:
    """Possessive and plural folding (``korea's`` -> ``korea``, ``cities`` -> ``city``): a
    plural is folded only when ``wordfreq`` finds the singular more common than the word
    itself, so ``texas``, ``species`` or ``news`` stay as they are."""
    word = re.sub(r"['\u2019]s?$", "", word)
    if len(word) < 4 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        options = [word[:-3] + "y", word[:-1]]
    elif word.endswith(("ches", "shes", "sses", "xes")):
        options = [word[:-2]]
    else:
        options = [word[:-1]]
    frequency = zipf(word, language)
    for singular in options:
        if zipf(singular, language) > frequency:
            return singular
    return word


def tokens(text: str, language: str = "en") -> list[str]:
    """Folded lower-case words of ``text`` (letters only)."""
    return [fold(w, language) for w in _WORD.findall(text.casefold())]


def _tfidf(words: Iterable[str], language: str) -> dict[str, float]:
    counts: dict[str, int] = defaultdict(int)
    for w in words:
        if len(w) > 1:
            counts[w] += 1
    out = {}
    for w, n in counts.items():
        idf = rarity(w, language)
        if idf > 0:
            out[w] = (1.0 + math.log(n)) * idf
    return out


def _channel(weights: Mapping[str, float], limit: int) -> Channel:
    """The ``limit`` heaviest terms, hashed, L2-normalised and quantised (zeros dropped)."""
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    merged: dict[int, int] = {}
    for term, w in top:
        q = round(WEIGHT_SCALE * w / norm)
        if q > 0:
            h = term_hash(term)
            merged[h] = max(merged.get(h, 0), q)
    ordered = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
    return Channel(tuple(h for h, _ in ordered), bytes(w for _, w in ordered))


def entity_weights(
    entities: Iterable[tuple[str, str, int]], title: str, language: str, title_boost: float
) -> dict[str, tuple[int, float]]:
    """``match key -> (group, weight)``: rarity x (1 + ln mentions), boosted when in the title.

    Keys are folded words; a one-word person (``reid``) equal to the surname of a person named
    in full in the same article (``tara reid``) counts as that person. The rarity of a key is
    that of its rarest word; a key tagged with several labels counts under the label with the
    most mentions.
    """
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for key, label, count in entities:
        group = GROUPS.get(label)
        words = tuple(fold(w) for w in _WORD.findall(key))
        if group is None or count <= 0 or not words:
            continue
        counts[" ".join(words)][group] += count
    full_names: dict[str, str] = {}
    for key in sorted(counts, key=lambda k: (-sum(counts[k].values()), k)):
        parts = key.split()
        if counts[key].get(PERSON) and len(parts) > 1:
            full_names.setdefault(parts[-1], key)
    for alias, key in full_names.items():
        if alias in counts:
            for n in counts.pop(alias).values():
                counts[key][PERSON] += n
    title_words = set(tokens(title, language))
    out = {}
    for key, by_group in counts.items():
        group = max(by_group.items(), key=lambda kv: (kv[1], -kv[0]))[0]
        parts = key.split()
        weight = max(0.5, *(rarity(w, language) for w in parts)) * (1.0 + math.log(sum(by_group.values())))
        if all(w in title_words for w in (parts[-1:] if group == PERSON else parts)):
            weight *= title_boost
        out[key] = (group, weight)
    return out


def mentioned_dates(text: str, limit: int) -> tuple[int, ...]:
    """Years (``2013``) and days (``March 3`` -> ``303``: month x 100 + day) named in ``text``,
    in order of first mention."""
    found = [(m.start(), int(m.group(1))) for m in _YEAR.finditer(text)]
    for m in _MONTH_DAY.finditer(text):
        day = int(m.group(2))
        if 1 <= day <= 31:
            found.append((m.start(), 100 * _MONTHS[m.group(1).casefold()] + day))
    out: list[int] = []
    for _, d in sorted(found):
        if d not in out:
            out.append(d)
            if len(out) == limit:
                break
    return tuple(out)


def salient_numbers(text: str, limit: int) -> tuple[int, ...]:
    """Hashes of the numbers of at least two digits (not years) and of ages (``4-year-old``),
    in order of first mention."""
    out: list[int] = []
    for m in _NUMBER.finditer(text):
        digits = m.group(1).replace(",", "")
        if m.group(2):
            term = f"age:{int(digits)}"
        elif len(digits) >= 2 and not (len(digits) == 4 and _YEAR.fullmatch(digits)):
            term = f"n:{int(digits)}"
        else:
            continue
        h = term_hash(term)
        if h not in out:
            out.append(h)
            if len(out) == limit:
                break
    return tuple(out)


@dataclass(frozen=True)
class StoryVector:
    """The compact summary of one article kept in state (no text).

    ``ts``: published time, else first seen (epoch seconds). Channels (``Channel``: hashes and
    one-byte weights, heaviest first): ``title`` and ``body`` (folded words), ``stems`` (first
    ``STEM_CHARS`` letters of the words of title and body), ``entities`` (match keys, a person
    by full name), with ``entity_groups`` beside (one byte per entity: 0 person, 1 place,
    2 organisation, 3 other). ``numbers``: hashes of salient numbers; ``dates``: years and days
    named (``mentioned_dates``). ``key_entities`` / ``key_terms``: hashes of the heaviest
    entities and title-or-body terms rare enough to block on (``VectorShape.key_max_zipf``),
    heaviest first (``blocking_keys`` takes the first few).
    """

    ts: float
    language: str
    title: Channel
    body: Channel
    stems: Channel
    entities: Channel
    entity_groups: bytes
    numbers: tuple[int, ...]
    dates: tuple[int, ...]
    key_entities: tuple[int, ...] = ()
    key_terms: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.entities.hashes) != len(self.entity_groups):
            raise ValueError("one group per entity")
        for channel in (self.title, self.body, self.stems, self.entities):
            if len(channel.hashes) != len(channel.weights) or len(channel.hashes) > 255:
                raise ValueError("a channel has one weight per hash and at most 255 of them")
        if len(self.language.encode()) > 255:
            raise ValueError("language code too long")

    # Built once per vector, on first use, and reused by every pair it is scored in.
    @cached_property
    def lookups(self) -> _Lookups:
        """``hash -> weight`` of each channel, and ``hash -> group`` of the entities."""
        return _Lookups(
            self.title.lookup(),
            self.body.lookup(),
            self.stems.lookup(),
            self.entities.lookup(),
            dict(zip(self.entities.hashes, self.entity_groups, strict=True)),
        )

    @cached_property
    def derived(self) -> _Derived:
        norms = (self.title.norm(), self.body.norm(), self.stems.norm(), self.entities.norm())
        sums = [0, 0, 0, 0]
        for w, g in zip(self.entities.weights, self.entity_groups, strict=True):
            sums[g] += w * w
        title = dict(zip(self.title.hashes, self.title.weights, strict=True))
        return _Derived(
            norms,
            (math.sqrt(sums[0]), math.sqrt(sums[1]), math.sqrt(sums[2]), math.sqrt(sums[3])),
            dot(title, self.body) / (norms[0] * norms[1]),
            frozenset(self.numbers),
            frozenset(d for d in self.dates if d >= 1000),
            frozenset(d for d in self.dates if d < 1000),
        )

    def to_bytes(self) -> bytes:
        """Deterministic, little-endian: a header of counts, the language, then every 32-bit
        hash (title, body, stems, entities, numbers, key entities, key terms), every byte
        (the four channels' weights, the entity groups), every date (16 bits)."""
        lang = self.language.encode()
        channels = (self.title, self.body, self.stems, self.entities)
        counts = [len(c.hashes) for c in channels]
        counts += [len(self.numbers), len(self.dates), len(self.key_entities), len(self.key_terms)]
        words = array("I", [h for c in channels for h in c.hashes])
        words.extend(self.numbers)
        words.extend(self.key_entities)
        words.extend(self.key_terms)
        dates = array("H", self.dates)
        if sys.byteorder != "little":
            words.byteswap()
            dates.byteswap()
        return b"".join(
            [
                struct.pack(_HEADER, VECTOR_FORMAT, self.ts, len(lang), *counts),
                lang,
                words.tobytes(),
                *(c.weights for c in channels),
                self.entity_groups,
                dates.tobytes(),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> StoryVector:
        """The inverse of ``to_bytes``; raises ``ValueError`` on another format or length."""
        if len(data) < _HEADER_SIZE:
            raise ValueError("not a story vector: too short")
        fmt, ts, n_lang, nt, nb, ns, ne, nn, nd, nke, nkt = struct.unpack_from(_HEADER, data)
        if fmt != VECTOR_FORMAT:
            raise ValueError(f"story vector format {fmt}, expected {VECTOR_FORMAT}")
        n_words = nt + nb + ns + ne + nn + nke + nkt
        pos = _HEADER_SIZE + n_lang
        end = pos + 4 * n_words + (nt + nb + ns + 2 * ne) + 2 * nd
        if end != len(data):
            raise ValueError("not a story vector: wrong length")
        language = data[_HEADER_SIZE:pos].decode()
        words = array("I", data[pos : pos + 4 * n_words])
        pos += 4 * n_words
        dates = array("H", data[end - 2 * nd : end])
        if sys.byteorder != "little":
            words.byteswap()
            dates.byteswap()
        hashes = tuple(words)
        a, b, c, d = nt, nt + nb, nt + nb + ns, nt + nb + ns + ne
        e, f = d + nn, d + nn + nke
        weights = pos, pos + nt, pos + nt + nb, pos + nt + nb + ns, pos + nt + nb + ns + ne
        vector = object.__new__(cls)
        # The fields are set as the frozen dataclass's __init__ would (it and __post_init__ are a
        # third of the decoding time; the counts above already guarantee what they check).
        vector.__dict__.update(
            ts=ts,
            language=language,
            title=Channel(hashes[:a], data[weights[0] : weights[1]]),
            body=Channel(hashes[a:b], data[weights[1] : weights[2]]),
            stems=Channel(hashes[b:c], data[weights[2] : weights[3]]),
            entities=Channel(hashes[c:d], data[weights[3] : weights[4]]),
            entity_groups=data[weights[4] : weights[4] + ne],
            numbers=hashes[d:e],
            dates=tuple(dates),
            key_entities=hashes[e:f],
            key_terms=hashes[f:],
        )
        return vector


class _Lookups(NamedTuple):
    title: dict[int, int]
    body: dict[int, int]
    stems: dict[int, int]
    entities: dict[int, int]
    groups: dict[int, int]


class _Derived(NamedTuple):
    norms: tuple[float, float, float, float]  # title, body, stems, entities
    group_norms: tuple[float, float, float, float]  # entity weights of each group; 0: none
    title_body: float  # cosine of the vector's own title and body
    numbers: frozenset[int]
    years: frozenset[int]
    days: frozenset[int]


_HEADER = "<BdB8B"
_HEADER_SIZE = struct.calcsize(_HEADER)


def dot(lookup: Mapping[int, int], channel: Channel) -> int:
    """The dot product of two channels, one given as its ``lookup``: an exact integer."""
    common = lookup.keys() & channel.hashes
    if not common:
        return 0
    position = channel.hashes.index
    return sum([lookup[h] * channel.weights[position(h)] for h in common])


def article_time(article: Article) -> float:
    """Published time, else first-seen time, in epoch seconds."""
    return (article.published_at or article.first_seen_at).timestamp()


def article_vector(article: Article, shape: VectorShape) -> StoryVector:
    """The vector of one article: title, text, time, entities and language, nothing else;
    ``shape`` (a trained model's) says how many features of each channel it keeps."""
    language = (article.language or "en")[:16]
    title = article.title or ""
    body_text = " ".join(article.text.split()[: shape.body_words])
    title_words, body_words = tokens(title, language), tokens(body_text, language)
    stems = [w[:STEM_CHARS] for w in title_words + body_words]
    title_terms, body_terms = _tfidf(title_words, language), _tfidf(body_words, language)
    ents = entity_weights(
        ((e.key, e.label, e.count) for e in article.entities or ()), title, language, shape.title_boost
    )
    ent_top = sorted(ents.items(), key=lambda kv: (-kv[1][1], kv[0]))[: shape.entities]
    ent_channel = _channel({k: w for k, (_, w) in ent_top}, shape.entities)
    group_of = {term_hash(k): g for k, (g, _) in ent_top}
    return StoryVector(
        ts=article_time(article),
        language=language,
        title=_channel(title_terms, shape.title_terms),
        body=_channel(body_terms, shape.body_terms),
        stems=_channel(_stem_tfidf(stems, title_words + body_words, language), shape.stems),
        entities=ent_channel,
        entity_groups=bytes(group_of[h] for h in ent_channel.hashes),
        numbers=salient_numbers(f"{title}\n{body_text}", shape.numbers),
        dates=mentioned_dates(f"{title}\n{body_text}", shape.dates),
        key_entities=_key_hashes({k: w for k, (_, w) in ents.items()}, shape, language),
        key_terms=_key_hashes(_combined(title_terms, body_terms), shape, language),
    )


def _combined(title: Mapping[str, float], body: Mapping[str, float]) -> dict[str, float]:
    """Title and body term weights, each normalised, summed."""
    out: dict[str, float] = defaultdict(float)
    for weights in (title, body):
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        for term, w in weights.items():
            out[term] += w / norm
    return out


def _key_hashes(weights: Mapping[str, float], shape: VectorShape, language: str) -> tuple[int, ...]:
    """Hashes of the heaviest keys (terms or entity keys) whose every word is rarer than
    ``shape.key_max_zipf``, at most ``MAX_KEYS``."""
    out: list[int] = []
    for key, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
        if all(zipf(w, language) <= shape.key_max_zipf for w in key.split()):
            out.append(term_hash(key))
            if len(out) == MAX_KEYS:
                break
    return tuple(out)


def _stem_tfidf(stems: Sequence[str], words: Sequence[str], language: str) -> dict[str, float]:
    """TF-IDF of stems; a stem's IDF is that of its most common word in the article."""
    counts: dict[str, int] = defaultdict(int)
    idf: dict[str, float] = {}
    for stem, word in zip(stems, words, strict=True):
        if len(word) <= 1:
            continue
        counts[stem] += 1
        r = rarity(word, language)
        idf[stem] = min(idf.get(stem, r), r)
    return {s: (1.0 + math.log(n)) * idf[s] for s, n in counts.items() if idf[s] > 0}
