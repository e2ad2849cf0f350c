"""Stage 4b, ``MarkNearDuplicates``: syndicated copies get ``duplicate_of`` = the earliest copy.

The idea (issue 3): word 5-shingles of the normalised text, a 128-value MinHash signature,
LSH bands as candidate keys, and a confirm rule::

    Jaccard >= 0.5, or containment of the shorter text in the longer >= 0.8 with
    Jaccard >= 0.2 (so an aggregator page holding many items does not chain stories).

A candidate pair is decided on its MinHash estimate when the rule gives the same answer for any
Jaccard within ``verify_margin`` (0.15) of it; otherwise (about one pair per article on the
benchmark) it is checked exactly, on the two articles' *fingerprints* (the low 32 bits of each
shingle hash).  Exact copies (same ``content_hash``) are the trivial case: the hash is one more
candidate key.

The graph is built for distribution (no global key, no process-global dictionaries)::

    Article ─ 'Sign articles' ─┬─ band keys ─ 'Key by band' ─ 'Compare in bands' ─┐
                               │                (keyed by LSH band / content hash) ├─ 'Gather by article' ─┬─ done
                               ├─ the article itself ──────────────────────────────┘   (keyed by article)  │
                               │                                                         undecided pairs │
                               └─ fingerprint ─ 'Check undecided pairs exactly' ◄── checks ──────────────┤
                                                 (keyed by the earlier article)                         │
                                                         └── answers ─► 'Gather exact checks' ◄─ article ┘

* **Scatter.**  Each article's compact entry ``(article_id, first_seen_at, b-bit signature,
  shingle count)`` goes to each of its band keys (plus ``x:<content_hash>``).
* **Compare in bands.**  One bag per band key holds its entries, each with its timestamp and
  a flag once released.  Arrivals are buffered and released in ``(first_seen_at, article_id)``
  order once the watermark passes them (event-time timer ``wake``, set to the arrival's time;
  a later arrival may postpone it, never reorder); each released entry is compared with the
  released ones earlier than it and within the TTL, and its earliest confirmed match in this
  band goes to the gather.  Entries no record can match any more are dropped whenever the key
  releases; with nothing buffered, ``wake`` frees an idle key after checking the stored
  timestamps.  ``flush`` (end of the global window) releases everything at once on a bounded
  input, in one round of timers instead of one per distinct timestamp.
* **Gather by article.**  Keyed by ``article_id@first_seen_at``: waits for the article and one
  result per key it was scattered to, then emits the article with ``duplicate_of`` = the
  earliest ``(first_seen_at, article_id)`` confirmed match over all bands and
  ``duplicate_score`` = the similarity that confirmed it (1.0 for an exact copy).  A timer is
  only a safety net (parts lost): it emits what is known after ``ttl_s + allowed_lateness_s``
  of event time *and* ``gather_timeout_s`` of wall-clock time, counting ``neardup_incomplete``.
* **Exact checks.**  When some band left a pair undecided and the earlier article of that pair
  is earlier than the best match found, the gather sends a check (its own fingerprint) to the
  earlier article's key instead of emitting, and the article to a second gather that waits for
  the answers (counter ``neardup_pairs_checked_exactly``).  Each article's fingerprint is kept
  under its own key until ``first_seen_at + ttl_s + allowed_lateness_s`` (an event-time timer;
  no later article can be compared with it after that); a check arriving before the fingerprint
  waits for it.  A check whose fingerprint never comes is answered with the estimate when the
  timer fires (``neardup_checks_on_estimates``), so nothing waits for ever.

Determinism.  The comparison of two entries depends only on the two entries, the best match is
a minimum, and each band compares an article only with articles *earlier* than it.  On a
runner with correct watermarks (Flink, Dataflow, TestStream, and bounded input, where the
watermark jumps to the end) every entry earlier than an article has been released before it,
so the output is identical whatever the arrival order or the number of workers.  An entry
arriving behind the watermark (late) is compared with what is stored, earlier entries only,
and counted as ``neardup_late``; articles already emitted are not revised.  On the FnApiRunner
with an unbounded ``PeriodicImpulse`` (the local streaming mode), event-time timers fire right
after each bundle, so release degrades to arrival order; that is acceptable there, and
``free_idle_keys=False`` should be set in that mode because the idle-key timer also fires
early (it would forget entries inside the TTL).  A key that keeps receiving arrivals faster
than the watermark advances postpones its release (each arrival moves ``wake``): checking the
buffer first would cost a state read per arrival, see below.  At the end of a stream (drain),
entries still buffered are released by ``flush`` and their articles may be late for a
downstream windowed aggregation (newsbeam has none after this stage).

Cost.  Each article touches ``bands + 1`` band keys, one gather key and one fingerprint key
(plus, for an undecided pair, one check and the second gather).  On the FnApiRunner
(Beam 2.75) every state write is slow (the state cache measures the value with ``objsize``,
which scans every loaded module's globals, a few ms each), so the DoFns write as little as
possible: one bag append per arrival, one rewrite per release, one append per gathered part.

Transitivity.  ``duplicate_of`` is the earliest confirmed match, and copies of one wire story
nearly always match its first copy directly, so a copy of a copy points to the earliest
canonical.  When a copy only matches an intermediate copy (edits drifting further at each
hop), ``duplicate_of`` names that intermediate copy: resolving such chains needs the
intermediate's own result, which a loop-free graph cannot feed back into the band state (in
``benchmarks/neardup_quality.py``, 59 of 1430 copies, 4.1%, point to a copy).  A one-hop
"resolve" stage keyed by the matched article would fix the two-step chains, but it has to keep
each article's result until its copies arrive, and freeing that by an event-time timer proved
unsafe downstream of two timer-driven stages on the DirectRunner (the timer fired before a
copy's message arrived); it is left out rather than made to depend on a timer.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
import numpy.typing as npt
from apache_beam.coders import (
    BooleanCoder,
    BytesCoder,
    FloatCoder,
    PickleCoder,
    StrUtf8Coder,
    TupleCoder,
    VarIntCoder,
)
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindow, TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms import metrics
from transforms.keyed import (
    ARTICLE,
    PART,
    STARTED,
    gather_key,
    gather_key_ts,
    idle_wake,
    rearm_after_release,
)
from transforms.records import Article
from transforms.worker import fast_state_sizing

DAY_S = 86400.0
EXACT_PREFIX = "x:"
RETRY_S = 5.0  # how often a gather whose safety net fired too early looks again
_WORD = re.compile(r"\w+")
_MAX_HASH = np.uint64(0xFFFFFFFF)
_COMBINE = np.uint64(0x9E3779B97F4A7C15)  # odd: 2**64 / golden ratio

Signature = npt.NDArray[np.uint32]


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearDupSettings:
    """What counts as a near-duplicate and how long it is remembered.

    ``bands`` x ``rows`` of the ``num_perm`` MinHash values form the LSH band keys; all
    ``num_perm`` values (``signature_bits`` of each: b-bit MinHash) are stored per band entry
    to estimate the similarity.  The default 32 x 2 was chosen with
    ``benchmarks/neardup_quality.py --tune`` on half of the ECB+ topics (figures in
    ``benchmarks/README.md``): the fewest bands whose candidates hold >= 99.5% of the gold
    pairs.  Rows of 2 because pairs confirmed by containment go down to Jaccard 0.2, where
    rows of 3 or 4 rarely collide (32 x 4 kept 92% of the gold pairs, 37 x 3 98%, 32 x 2
    99.7%); 8 bits per value estimate as well as 16 and halve the state.
    """

    bands: int = 32
    rows: int = 2
    num_perm: int = 128
    seed: int = 20240611
    shingle_size: int = 5
    min_words: int = 20  # shorter texts are only matched exactly (content_hash)
    jaccard_threshold: float = 0.5
    containment_threshold: float = 0.8
    containment_min_jaccard: float = 0.2
    signature_bits: int = 8
    ttl_s: float = 7 * DAY_S
    allowed_lateness_s: float = DAY_S
    free_idle_keys: bool = True  # set False on the FnApiRunner in streaming mode (see module doc)
    # Compare each entry when it arrives instead of when the watermark passes it (local streaming
    # runs, see the module doc): no release timers, arrival order instead of time order.
    release_on_arrival: bool = False
    gather_timeout_s: float = 600.0  # wall-clock part of the gather's safety net
    # A candidate pair whose decision would flip if its estimated Jaccard moved by this much is
    # checked exactly, on the two articles' shingle fingerprints (0: decide on the estimates).
    # 0.15 is ~3.4 standard errors of a 128-value 8-bit estimate at J = 0.5 (set from that
    # figure, not tuned).
    verify_margin: float = 0.15

    def __post_init__(self) -> None:
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows ({self.bands} x {self.rows}) must fit in num_perm ({self.num_perm})"
            )
        if self.signature_bits not in (8, 16, 32):
            raise ValueError("signature_bits must be 8, 16 or 32")
        if self.shingle_size < 1 or self.min_words < 0:
            raise ValueError("shingle_size must be positive and min_words not negative")
        if self.ttl_s <= 0 or self.allowed_lateness_s < 0 or self.gather_timeout_s < 0:
            raise ValueError("ttl_s must be positive, allowed_lateness_s and gather_timeout_s not negative")
        for name in (
            "jaccard_threshold",
            "containment_threshold",
            "containment_min_jaccard",
            "verify_margin",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")


# --------------------------------------------------------------------------------------------
# Pure functions: shingles, MinHash, LSH, similarity
# --------------------------------------------------------------------------------------------


def shingle_words(text: str) -> list[str]:
    """The words of ``text`` for shingling: NFKC, case-folded, punctuation and spacing dropped."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(words: Sequence[str], size: int = 5) -> set[str]:
    """Word ``size``-shingles; a text shorter than ``size`` words is one shingle (none if empty)."""
    if not words:
        return set()
    if len(words) < size:
        return {" ".join(words)}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def shingle_hashes(words: Sequence[str], size: int = 5) -> npt.NDArray[np.uint64]:
    """Distinct 64-bit hashes of the word ``size``-shingles, vectorised and stable across processes.

    Each distinct word is hashed once with BLAKE2b (never Python's ``hash``, which is salted
    per process); a shingle's hash combines its words' hashes in order (multiply-add, then the
    SplitMix64 finaliser).  A text shorter than ``size`` words is one shingle, as in ``shingles``.
    """
    if not words:
        return np.empty(0, dtype=np.uint64)
    index: dict[str, int] = {}
    positions = np.fromiter((index.setdefault(w, len(index)) for w in words), dtype=np.intp, count=len(words))
    digests = b"".join(hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest() for w in index)
    word_hashes = np.frombuffer(digests, dtype="<u8")[positions]
    width = min(size, word_hashes.shape[0])
    windows = np.lib.stride_tricks.sliding_window_view(word_hashes, width)
    combined = np.zeros(windows.shape[0], dtype=np.uint64)
    for column in range(width):
        combined = combined * _COMBINE + windows[:, column]
    return np.unique(_mix64(combined))


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: every input bit affects every output bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def permutations(num_perm: int, seed: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """``(a, b)`` of ``num_perm`` multiply-add-shift hash functions, from a fixed seed."""
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def minhash(
    hashes: npt.NDArray[np.uint64],
    perms: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]],
    chunk: int = 4096,
) -> Signature:
    """MinHash signature: per hash function ``h(x) = (a·x + b mod 2⁶⁴) >> 32``, its minimum.

    Vectorised over shingles x functions (in chunks, to bound memory on long texts).  An
    empty input gives the all-ones signature (it matches nothing but another empty text).
    """
    a, b = perms
    signature = np.full(a.shape[0], _MAX_HASH, dtype=np.uint64)
    for start in range(0, hashes.shape[0], chunk):
        x = hashes[start : start + chunk, None]
        values = (x * a[None, :] + b[None, :]) >> np.uint64(32)  # uint64 arithmetic wraps mod 2**64
        np.minimum(signature, values.min(axis=0), out=signature)
    return signature.astype(np.uint32)


def band_keys(signature: Signature, bands: int, rows: int) -> list[str]:
    """One LSH key per band: ``<band>:<hash of its rows>`` (equal rows in other bands differ)."""
    keys = []
    for band in range(bands):
        part = signature[band * rows : (band + 1) * rows].astype("<u4").tobytes()
        keys.append(f"{band:02x}:{hashlib.blake2b(part, digest_size=8).hexdigest()}")
    return keys


def compact_signature(signature: Signature, bits: int) -> bytes:
    """The low ``bits`` bits of each MinHash value (b-bit MinHash), as bytes."""
    dtype = {8: "<u1", 16: "<u2", 32: "<u4"}[bits]
    return (signature & np.uint32((1 << bits) - 1)).astype(dtype).tobytes()


def jaccard_estimate(a: bytes, b: bytes, bits: int) -> float:
    """Estimated Jaccard similarity from two b-bit signatures.

    Two b-bit values also agree by chance (probability ``2**-bits``), so the raw agreement
    ``p`` is corrected to ``(p - c) / (1 - c)``.
    """
    if not a or len(a) != len(b):
        return 0.0
    dtype = {8: "<u1", 16: "<u2", 32: "<u4"}[bits]
    agree = float(np.mean(np.frombuffer(a, dtype=dtype) == np.frombuffer(b, dtype=dtype)))
    chance = 2.0**-bits
    return min(1.0, max(0.0, (agree - chance) / (1.0 - chance)))


def containment_estimate(jaccard: float, count_a: int, count_b: int) -> float:
    """Share of the smaller shingle set inside the other, from Jaccard and the set sizes.

    ``|A and B| = J * |A or B| = J * (|A| + |B|) / (1 + J)``.
    """
    smaller = min(count_a, count_b)
    if smaller <= 0:
        return 0.0
    return min(1.0, jaccard * (count_a + count_b) / (1.0 + jaccard) / smaller)


def confirm(jaccard: float, containment: float, settings: NearDupSettings) -> float | None:
    """The score that confirms a candidate pair, else None.

    Jaccard ≥ ``jaccard_threshold`` (score: the Jaccard), or containment of the shorter in
    the longer ≥ ``containment_threshold`` with Jaccard ≥ ``containment_min_jaccard``
    (score: the containment).  The Jaccard floor is the aggregator-page guard: a page
    holding many stories contains each of them, but shares little with any one.
    """
    if jaccard >= settings.jaccard_threshold:
        return jaccard
    if containment >= settings.containment_threshold and jaccard >= settings.containment_min_jaccard:
        return containment
    return None


ACCEPT, REJECT, VERIFY = "accept", "reject", "verify"


def estimate_verdict(
    jaccard: float, count_a: int, count_b: int, settings: NearDupSettings
) -> tuple[str, float | None]:
    """``(verdict, score on the estimates)`` of a candidate pair from its estimated Jaccard.

    ``ACCEPT`` or ``REJECT`` when the confirm rule gives the same answer for every Jaccard
    within ``verify_margin`` of the estimate (containment follows the Jaccard: it is estimated
    from it and the exact shingle counts, and the rule is monotone in both), else ``VERIFY``:
    the pair is too close to a threshold for 128 values to decide, and is checked exactly.
    """

    def accepted(j: float) -> float | None:
        return confirm(j, containment_estimate(j, count_a, count_b), settings)

    estimate = accepted(jaccard)
    margin = settings.verify_margin
    if margin <= 0:
        return (REJECT if estimate is None else ACCEPT), estimate
    if accepted(max(0.0, jaccard - margin)) is not None:
        return ACCEPT, estimate
    if accepted(min(1.0, jaccard + margin)) is None:
        return REJECT, estimate
    return VERIFY, estimate


def fingerprint(hashes: npt.NDArray[np.uint64]) -> bytes:
    """The sorted distinct low 32 bits of shingle hashes: 4 bytes per shingle, for exact checks.

    Two distinct shingles of texts of ``n`` and ``m`` shingles share their low 32 bits with
    probability about ``n·m / 2**32`` (2e-4 for two 1,000-shingle texts): the Jaccard computed on
    fingerprints is the exact one but for that.
    """
    return np.unique((hashes & _MAX_HASH).astype("<u4")).tobytes()


def fingerprint_similarity(a: bytes, b: bytes) -> tuple[float, float]:
    """``(Jaccard, containment of the smaller in the larger)`` of two fingerprints."""
    left, right = np.frombuffer(a, dtype="<u4"), np.frombuffer(b, dtype="<u4")
    if left.size == 0 or right.size == 0:
        return 0.0, 0.0
    inter = int(np.intersect1d(left, right, assume_unique=True).size)
    return inter / (left.size + right.size - inter), inter / min(left.size, right.size)


def exact_pair_similarity(a: set[str], b: set[str]) -> tuple[float, float]:
    """Exact ``(Jaccard, containment of the smaller in the larger)`` of two shingle sets."""
    if not a or not b:
        return 0.0, 0.0
    inter = len(a & b)
    return inter / len(a | b), inter / min(len(a), len(b))


# --------------------------------------------------------------------------------------------
# Entries, and what one band key decides
# --------------------------------------------------------------------------------------------


class Entry(NamedTuple):
    """What a band key stores per article: a few hundred bytes, never the text."""

    article_id: str
    ts: float  # first_seen_at, epoch seconds
    signature: bytes  # b-bit MinHash; empty for the exact-copy key
    shingles: int


class Match(NamedTuple):
    """An earlier article an entry was confirmed against."""

    ts: float
    article_id: str
    score: float
    exact: bool

    def rank(self) -> tuple[float, str, bool, float]:
        """Earliest first; for the same article, the exact-copy result first (score 1.0)."""
        return (self.ts, self.article_id, not self.exact, -self.score)


def order(entry: Entry) -> tuple[float, str]:
    """The canonical order: ``(first_seen_at, article_id)``."""
    return (entry.ts, entry.article_id)


def earliest(matches: Iterable[Match | None]) -> Match | None:
    """The earliest of some matches (None if there are none)."""
    found = [m for m in matches if m is not None]
    return min(found, key=Match.rank) if found else None


class Candidate(NamedTuple):
    """An earlier article too close to a threshold to decide on the estimates: checked exactly."""

    ts: float
    article_id: str
    estimate: float | None  # the score on the estimates, used if the exact check cannot be made


class BandResult(NamedTuple):
    """What one band key finds for an entry: the earliest match, and earlier pairs to check."""

    match: Match | None  # the earliest earlier entry the estimates confirm
    check: tuple[Candidate, ...] = ()  # undecided earlier entries, all earlier than ``match``


def best_match(
    entry: Entry, stored: Iterable[Entry], exact_key: bool, settings: NearDupSettings
) -> BandResult:
    """The earliest stored entry, before ``entry`` and within the TTL, that ``entry`` duplicates.

    Pairs the estimates cannot decide (``estimate_verdict``) and that are earlier than that
    match are returned as candidates for the exact check.
    """
    best: Match | None = None
    undecided: list[Candidate] = []
    for other in stored:
        if order(other) >= order(entry) or entry.ts - other.ts >= settings.ttl_s:
            continue
        if best is not None and order(other) >= (best.ts, best.article_id):
            continue
        if exact_key:
            best = Match(other.ts, other.article_id, 1.0, True)
            continue
        jaccard = jaccard_estimate(entry.signature, other.signature, settings.signature_bits)
        verdict, score = estimate_verdict(jaccard, entry.shingles, other.shingles, settings)
        if verdict == ACCEPT and score is not None:
            best = Match(other.ts, other.article_id, score, False)
        elif verdict == VERIFY:
            undecided.append(Candidate(other.ts, other.article_id, score))
    if best is not None:
        undecided = [c for c in undecided if (c.ts, c.article_id) < (best.ts, best.article_id)]
    return BandResult(best, tuple(sorted(undecided)))


def unexpired(stored: Iterable[Entry], now: float, settings: NearDupSettings) -> list[Entry]:
    """Stored entries that a record at ``now`` (or one up to the allowed lateness before) may match."""
    horizon = now - settings.ttl_s - settings.allowed_lateness_s
    return [e for e in stored if e.ts > horizon]


class Slot(NamedTuple):
    """An entry in a band key's state, and whether it was already compared (released)."""

    entry: Entry
    released: bool


SLOT_CODER = TupleCoder([StrUtf8Coder(), FloatCoder(), BytesCoder(), VarIntCoder(), BooleanCoder()])


def slot_row(slot: Slot) -> tuple[str, float, bytes, int, bool]:
    return (*slot.entry, slot.released)


def row_slot(row: Sequence[Any]) -> Slot:
    return Slot(Entry(row[0], row[1], row[2], row[3]), bool(row[4]))


@dataclass(frozen=True)
class Released:
    """What a band key decides when the watermark reaches ``now`` (see ``release``)."""

    results: list[tuple[Entry, BandResult]]  # each released entry and what this key found for it
    slots: list[Slot]  # the state to keep
    late: int  # entries released after a later entry of this key
    changed: bool


def release(slots: Sequence[Slot], now: float, exact_key: bool, settings: NearDupSettings) -> Released:
    """Compare the buffered entries at or before ``now``, in ``(first_seen_at, article_id)`` order.

    Each is compared with the released entries before it (within the TTL), then joins them.
    Released entries that nothing at or after ``now - allowed_lateness_s`` can match are dropped.
    """
    kept = [s.entry for s in slots if s.released]
    waiting = [s.entry for s in slots if not s.released]
    ready = sorted((e for e in waiting if e.ts <= now), key=order)
    rest = [e for e in waiting if e.ts > now]
    newest = max((order(e) for e in kept), default=None)
    results: list[tuple[Entry, BandResult]] = []
    late = 0
    for entry in ready:
        if newest is not None and order(entry) < newest:
            late += 1
        kept = unexpired(kept, entry.ts, settings)
        results.append((entry, best_match(entry, kept, exact_key, settings)))
        kept.append(entry)
        newest = order(entry) if newest is None else max(newest, order(entry))
    before = len(kept)
    kept = unexpired(kept, now, settings)
    return Released(
        results,
        [Slot(e, True) for e in kept] + [Slot(e, False) for e in rest],
        late,
        bool(ready) or len(kept) != before,
    )


@dataclass(frozen=True)
class Signed:
    """An article's candidate keys and the entry stored under each."""

    entry: Entry
    keys: tuple[str, ...]
    near: bool  # has band keys (long enough), not only the exact-copy key
    fingerprint: bytes = b""  # for the exact check of undecided pairs (``fingerprint``); near only


class Signer:
    """MinHash + LSH for one settings object; the permutations are built once (per worker)."""

    def __init__(self, settings: NearDupSettings) -> None:
        self.settings = settings
        self.perms = permutations(settings.num_perm, settings.seed)

    def hashes(self, text: str) -> tuple[npt.NDArray[np.uint64], int]:
        """``(distinct shingle hashes, words)`` of a text."""
        words = shingle_words(text)
        return shingle_hashes(words, self.settings.shingle_size), len(words)

    def signature(self, text: str) -> tuple[Signature, int, int]:
        """``(signature, distinct shingles, words)`` of a text."""
        hashes, words = self.hashes(text)
        return minhash(hashes, self.perms), int(hashes.shape[0]), words

    def fingerprint(self, text: str) -> bytes:
        return fingerprint(self.hashes(text)[0])

    def sign(self, article_id: str, ts: float, text: str, content_hash: str | None) -> Signed:
        s = self.settings
        hashes, words = self.hashes(text)
        count = int(hashes.shape[0])
        keys = [EXACT_PREFIX + content_hash] if content_hash else []
        near = words >= s.min_words and count > 0
        if not near:
            return Signed(Entry(article_id, ts, b"", count), tuple(keys), False)
        signature = minhash(hashes, self.perms)
        keys += band_keys(signature, s.bands, s.rows)
        compact = compact_signature(signature, s.signature_bits)
        verify = fingerprint(hashes) if s.verify_margin > 0 else b""
        return Signed(Entry(article_id, ts, compact, count), tuple(keys), near, verify)


def state_bytes(signed: Signed) -> int:
    """Bytes of state one article occupies: its band entries and its fingerprint (keys not counted)."""
    full = len(SLOT_CODER.encode(slot_row(Slot(signed.entry, True))))
    bare = len(SLOT_CODER.encode(slot_row(Slot(signed.entry._replace(signature=b""), True))))
    exact = sum(1 for key in signed.keys if key.startswith(EXACT_PREFIX))
    return exact * bare + (len(signed.keys) - exact) * full + len(signed.fingerprint)


# Gather items: ARTICLE, PART (a BandResult: what one key found, or the answer of one exact
# check) and STARTED, as in transforms/keyed.py.
STORE = "store"  # exact-check items: (STORE, the article's fingerprint)
CHECK = "check"  # (CHECK, Check)
AGAIN = "again"  # an article sent from the first gather to the second, with its best match so far


class Check(NamedTuple):
    """A request to check ``candidate`` exactly against the requesting article."""

    requester: str  # the requester's gather key
    requester_ts: float
    fingerprint: bytes  # the requester's
    candidate: Candidate


@dataclass(frozen=True)
class Gathered:
    """What a gather key holds: the article (once arrived), parts counted, the best match."""

    article: Article | None
    expected: int
    parts: int
    best: Match | None
    started: float
    check: tuple[Candidate, ...] = ()  # undecided pairs earlier than ``best``, from every key


def part_result(payload: Any) -> BandResult:
    """A part's payload as a ``BandResult`` (whatever tuple types the coder gave back)."""
    match, check = payload
    return BandResult(None if match is None else Match(*match), tuple(Candidate(*c) for c in check))


def gathered_parts(items: Iterable[tuple[str, Any]]) -> Gathered:
    """Fold a gather key's items (see ``ARTICLE``, ``PART``, ``STARTED``)."""
    article: Article | None = None
    expected, parts, started = -1, 0, 0.0
    best: Match | None = None
    undecided: set[Candidate] = set()
    for kind, payload in items:
        if kind == PART:
            parts += 1
            result = part_result(payload)
            best = earliest([best, result.match])
            undecided.update(result.check)
        elif kind == ARTICLE:
            article, expected = payload
        elif kind == STARTED:
            started = float(payload)
    check = sorted(c for c in undecided if best is None or (c.ts, c.article_id) < (best.ts, best.article_id))
    return Gathered(article, expected, parts, best, started, tuple(check))


def check_answer(check: Check, stored: bytes | None, settings: NearDupSettings) -> Match | None:
    """The exact check of a candidate pair, or its estimate when the candidate's fingerprint is gone."""
    c = check.candidate
    if stored is None:
        score = c.estimate
    else:
        score = confirm(*fingerprint_similarity(check.fingerprint, stored), settings)
    return None if score is None else Match(c.ts, c.article_id, score, False)


# --------------------------------------------------------------------------------------------
# DoFns (thin) and the composite transform
# --------------------------------------------------------------------------------------------


class _ScatterFn(beam.DoFn):
    """Article → its entry under each candidate key, and the article itself to the gather."""

    def __init__(self, settings: NearDupSettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        self._signer = Signer(self._settings)
        self._short = metrics.counter("neardup_exact_only")
        self._state_bytes = metrics.distribution("neardup_state_bytes_per_article")

    def process(self, article: Article) -> Iterator[Any]:
        ts = article.first_seen_at.timestamp()
        signed = self._signer.sign(article.article_id, ts, article.text, article.content_hash)
        if not signed.near:
            self._short.inc()
        self._state_bytes.update(state_bytes(signed))
        target = gather_key(article.article_id, ts)
        yield beam.pvalue.TaggedOutput(ARTICLE, (target, (ARTICLE, (article, len(signed.keys)))))
        if signed.fingerprint:
            yield beam.pvalue.TaggedOutput(STORE, TimestampedValue((target, (STORE, signed.fingerprint)), ts))
        for key in signed.keys:
            # the exact-copy key needs no signature: any entry under it is an exact copy
            entry = signed.entry._replace(signature=b"") if key.startswith(EXACT_PREFIX) else signed.entry
            yield TimestampedValue((key, entry), ts)


class _CompareInBandFn(beam.DoFn):
    """Keyed by an LSH band key (or ``x:<content_hash>``): earliest confirmed match per entry.

    One bag holds the key's entries, each flagged once released (compared).  ``wake`` fires
    when the watermark passes the newest arrival (then, with nothing buffered, when the stored
    entries expire, to free an idle key); ``flush`` at the end of the global window releases
    everything in one round on a bounded input.  State is touched as little as possible: on
    the FnApiRunner every state write costs a deep-size measurement of the cached value.
    """

    SLOTS = BagStateSpec("slots", SLOT_CODER)
    WAKE = TimerSpec("wake", TimeDomain.WATERMARK)
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)

    def __init__(self, settings: NearDupSettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._late = metrics.counter("neardup_late")

    def process(
        self,
        element: tuple[str, tuple[str, float, bytes, int]],
        slots: Any = beam.DoFn.StateParam(SLOTS),
        wake: Any = beam.DoFn.TimerParam(WAKE),
        flush: Any = beam.DoFn.TimerParam(FLUSH),
    ) -> Iterator[Any]:
        entry = Entry(*element[1])
        slots.add(slot_row(Slot(entry, False)))
        s = self._settings
        if s.release_on_arrival:
            done, outputs = self._release(element[0], entry.ts, slots)
            yield from outputs
            if s.free_idle_keys:  # only the idle-key wake-up, far ahead
                idle_wake(wake, [slot.entry.ts for slot in done.slots], s.ttl_s + s.allowed_lateness_s)
            return
        wake.set(Timestamp.of(entry.ts))  # may postpone an earlier entry's release: still in order
        flush.set(GlobalWindow().max_timestamp())

    def _release(self, key: str, now: float, slots: Any) -> tuple[Released, Iterator[Any]]:
        done = release([row_slot(r) for r in slots.read()], now, key.startswith(EXACT_PREFIX), self._settings)
        self._late.inc(done.late)
        if done.changed:
            slots.clear()
            for slot in done.slots:
                slots.add(slot_row(slot))
        outputs = (
            TimestampedValue((gather_key(e.article_id, e.ts), (PART, match)), e.ts)
            for e, match in done.results
        )
        return done, outputs

    @on_timer(WAKE)
    def wake(
        self,
        key: Any = beam.DoFn.KeyParam,
        fired_at: Any = beam.DoFn.TimestampParam,
        slots: Any = beam.DoFn.StateParam(SLOTS),
        wake: Any = beam.DoFn.TimerParam(WAKE),
    ) -> Iterator[Any]:
        s = self._settings
        done, outputs = self._release(key, float(fired_at), slots)
        yield from outputs
        rearm_after_release(
            wake,
            slots,
            fired_at,
            [slot.entry.ts for slot in done.slots if not slot.released],
            [slot.entry.ts for slot in done.slots],
            s.ttl_s + s.allowed_lateness_s if s.free_idle_keys else None,
        )

    @on_timer(FLUSH)
    def flush(
        self,
        key: Any = beam.DoFn.KeyParam,
        slots: Any = beam.DoFn.StateParam(SLOTS),
        wake: Any = beam.DoFn.TimerParam(WAKE),
    ) -> Iterator[Any]:
        """End of the input: release what is left; the key's state is no longer needed."""
        rows = [row_slot(r) for r in slots.read()]
        wake.clear()  # no idle-key wake-up after the end of the input
        if all(slot.released for slot in rows):
            return  # ``wake`` released everything: nothing to write
        end = float(GlobalWindow().max_timestamp())
        done = release(rows, end, key.startswith(EXACT_PREFIX), self._settings)
        self._late.inc(done.late)
        slots.clear()
        for entry, match in done.results:
            yield TimestampedValue((gather_key(entry.article_id, entry.ts), (PART, match)), entry.ts)


class _GatherFn(beam.DoFn):
    """Keyed by ``article_id@first_seen_at``: the article back with the best match of all bands.

    With ``checks`` (the first gather), an article whose keys left undecided pairs earlier than
    its best match is not emitted: a ``CHECK`` goes to each candidate's key, and the article with
    its best match so far to the second gather (``AGAIN``), which waits for the answers.
    """

    ITEMS = BagStateSpec("items", PickleCoder())
    SAFETY = TimerSpec("safety", TimeDomain.WATERMARK)
    # Re-checks of a safety net that fired too early, in processing time: re-arming the
    # event-time timer at the time it fired makes it fire again at once, a busy loop that kept
    # Prism from ever finishing a run.
    RETRY = TimerSpec("retry", TimeDomain.REAL_TIME)

    def __init__(self, settings: NearDupSettings, checks: bool = False) -> None:
        self._settings = settings
        self._checks = checks

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._signer = Signer(self._settings)
        self._checked = metrics.counter("neardup_pairs_checked_exactly")
        self._near = metrics.counter("near_duplicates")
        self._exact = metrics.counter("exact_duplicates")
        self._canonical = metrics.counter("neardup_canonical")
        self._incomplete = metrics.counter("neardup_incomplete")
        self._orphans = metrics.counter("neardup_orphan_parts")

    def _emit(self, article: Article, best: Match | None) -> Iterator[Any]:
        if best is None:
            self._canonical.inc()
            out = article
        else:
            (self._exact if best.exact else self._near).inc()
            out = replace(article, duplicate_of=best.article_id, duplicate_score=round(best.score, 4))
        yield TimestampedValue(out, article.first_seen_at.timestamp())

    def process(
        self,
        element: tuple[str, tuple[str, Any]],
        timestamp: Any = beam.DoFn.TimestampParam,
        items: Any = beam.DoFn.StateParam(ITEMS),
        safety: Any = beam.DoFn.TimerParam(SAFETY),
        retry: Any = beam.DoFn.TimerParam(RETRY),
    ) -> Iterator[Any]:
        kind, payload = element[1]
        held = list(items.read())
        if not held:
            s = self._settings
            safety.set(Timestamp.of(float(timestamp) + s.ttl_s + s.allowed_lateness_s))
            held.append((STARTED, time.time()))  # when this key started waiting (wall clock)
            items.add(held[0])
        held.append((kind, payload))
        gathered = gathered_parts(held)
        if gathered.article is not None and gathered.parts >= gathered.expected:
            items.clear()
            safety.clear()
            retry.clear()
            if self._checks and gathered.check:
                yield from self._ask(element[0], gathered)
            else:
                yield from self._emit(gathered.article, gathered.best)
            return
        items.add((kind, payload))

    def _ask(self, key: str, gathered: Gathered) -> Iterator[Any]:
        """Send the undecided pairs to exact checks; the article waits in the second gather."""
        article = gathered.article
        assert article is not None
        ts = article.first_seen_at.timestamp()
        mine = self._signer.fingerprint(article.text)
        self._checked.inc(len(gathered.check))
        best = gathered.best
        yield beam.pvalue.TaggedOutput(AGAIN, (key, (ARTICLE, (article, len(gathered.check) + 1))))
        yield beam.pvalue.TaggedOutput(AGAIN, (key, (PART, BandResult(best))))
        for candidate in gathered.check:
            target = gather_key(candidate.article_id, candidate.ts)
            yield beam.pvalue.TaggedOutput(
                CHECK, TimestampedValue((target, (CHECK, Check(key, ts, mine, candidate))), ts)
            )

    @on_timer(SAFETY)
    def safety_net(
        self,
        items: Any = beam.DoFn.StateParam(ITEMS),
        retry: Any = beam.DoFn.TimerParam(RETRY),
    ) -> Iterator[Any]:
        yield from self._give_up_or_retry(items, retry)

    @on_timer(RETRY)
    def retry_safety_net(
        self,
        items: Any = beam.DoFn.StateParam(ITEMS),
        retry: Any = beam.DoFn.TimerParam(RETRY),
    ) -> Iterator[Any]:
        yield from self._give_up_or_retry(items, retry)

    def _give_up_or_retry(self, items: Any, retry: Any) -> Iterator[Any]:
        held = list(items.read())
        if not held:
            return
        gathered = gathered_parts(held)
        if time.time() - gathered.started < self._settings.gather_timeout_s:
            # A runner firing event-time timers early, or parts still in flight: look again soon.
            retry.set(Timestamp.of(time.time() + RETRY_S))
            return
        items.clear()
        if gathered.article is None:
            self._orphans.inc()
            return
        self._incomplete.inc()
        yield from self._emit(gathered.article, gathered.best)


class _CheckExactlyFn(beam.DoFn):
    """Keyed by ``article_id@first_seen_at``: the article's fingerprint, and the exact checks asked of it.

    ``STORE`` keeps the fingerprint (4 bytes per shingle) and answers the checks that arrived
    before it; a ``CHECK`` is answered at once when the fingerprint is there, else kept until it
    comes.  ``expire`` (event time: first seen + TTL + allowed lateness, when no later article
    can be compared with this one any more) frees the key; checks still waiting then (the
    fingerprint never came) are answered with their estimate and counted.
    """

    FINGERPRINT = ReadModifyWriteStateSpec("fingerprint", BytesCoder())
    WAITING = BagStateSpec("waiting", PickleCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, settings: NearDupSettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._unanswered = metrics.counter("neardup_checks_on_estimates")

    def _answer(self, check: Check, stored: bytes | None) -> TimestampedValue:
        match = check_answer(check, stored, self._settings)
        return TimestampedValue((check.requester, (PART, BandResult(match))), check.requester_ts)

    def process(
        self,
        element: tuple[str, tuple[str, Any]],
        stored: Any = beam.DoFn.StateParam(FINGERPRINT),
        waiting: Any = beam.DoFn.StateParam(WAITING),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Iterator[Any]:
        kind, payload = element[1]
        s = self._settings
        if kind == STORE:
            stored.write(payload)
            if s.free_idle_keys:
                expire.set(Timestamp.of(gather_key_ts(element[0]) + s.ttl_s + s.allowed_lateness_s))
            pending = list(waiting.read())
            if pending:
                waiting.clear()
                for check in pending:
                    yield self._answer(Check(*check), payload)
            return
        check = Check(*payload)
        fingerprint = stored.read()
        if fingerprint is not None:
            yield self._answer(check, fingerprint)
            return
        waiting.add(check)
        if s.free_idle_keys:  # else the fingerprint answers it when it comes
            expire.set(Timestamp.of(check.candidate.ts + s.ttl_s + s.allowed_lateness_s))

    @on_timer(EXPIRE)
    def expire(
        self,
        stored: Any = beam.DoFn.StateParam(FINGERPRINT),
        waiting: Any = beam.DoFn.StateParam(WAITING),
    ) -> Iterator[Any]:
        pending = [Check(*check) for check in waiting.read()]
        self._unanswered.inc(len(pending))
        for check in pending:
            yield self._answer(check, None)
        stored.clear()
        waiting.clear()


class MarkNearDuplicates(beam.PTransform):
    """``Article`` in, ``Article`` out: later copies get ``duplicate_of``/``duplicate_score``.

    The canonical copy is the earliest by ``(first_seen_at, article_id)`` (element timestamps
    are ``first_seen_at``).  See the module docstring for the keys, state and determinism.
    """

    def __init__(self, settings: NearDupSettings | None = None) -> None:
        super().__init__()
        self._settings = settings or NearDupSettings()

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        s = self._settings
        scattered = articles | "Sign articles" >> beam.ParDo(_ScatterFn(s)).with_outputs(
            ARTICLE, STORE, main="entries"
        )
        parts = (
            scattered.entries
            | "Key by band" >> beam.Map(lambda kv: (kv[0], tuple(kv[1]))).with_output_types(tuple[str, Any])
            | "Compare in bands" >> beam.ParDo(_CompareInBandFn(s)).with_output_types(tuple[str, Any])
        )
        gathered = (
            (scattered[ARTICLE], parts)
            | "Merge articles and parts" >> beam.Flatten().with_output_types(tuple[str, Any])
            | "Gather by article"
            >> beam.ParDo(_GatherFn(s, checks=True)).with_outputs(CHECK, AGAIN, main="done")
        )
        answers = (
            (scattered[STORE], gathered[CHECK])
            | "Merge fingerprints and checks" >> beam.Flatten().with_output_types(tuple[str, Any])
            | "Check undecided pairs exactly"
            >> beam.ParDo(_CheckExactlyFn(s)).with_output_types(tuple[str, Any])
        )
        checked = (
            (gathered[AGAIN], answers)
            | "Merge articles and answers" >> beam.Flatten().with_output_types(tuple[str, Any])
            | "Gather exact checks" >> beam.ParDo(_GatherFn(s)).with_output_types(Article)
        )
        return (gathered.done, checked) | "Merge checked and unchecked" >> beam.Flatten().with_output_types(
            Article
        )
