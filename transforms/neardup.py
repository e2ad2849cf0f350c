"""Stage 4b, ``MarkNearDuplicates``: syndicated copies get ``duplicate_of`` = the earliest copy.

The rule (word 5-shingles of the normalised text)::

    Jaccard >= 0.5, or containment of the shorter text in the longer >= 0.8 with
    Jaccard >= 0.2 (so an aggregator page holding many items does not chain stories).

Candidates come from MinHash LSH: a 128-value signature, 32 bands of 2 rows; two texts sharing a
band value are compared on their 8-bit signatures (b-bit MinHash).  A pair is decided on the
estimate when the rule gives the same answer for any Jaccard within ``verify_margin`` (0.15) of
it; otherwise (about one pair per article on the benchmark) it is checked exactly on the two
texts' *fingerprints* (the low 32 bits of each shingle hash).  Exact copies (same
``content_hash``) are the trivial case: the hash is one more candidate key.

The graph is ``transforms.keyed``'s probe/decide, with the exact check in between::

    Article ─ 'Sign articles' ─┬─ entries ─ 'Probe bands' ──────┬─ edges ──────────────────────────┐
                               │  (band or content-hash shard)   └─ pairs to check ─┐               │
                               ├─ fingerprints ─────────────── 'Look up fingerprints' ─ fingerprints ┤
                               │                              (hour x article shard)                 │
                               └─ the article itself ─────────────────────────────────────── 'Decide near-duplicates'
                                                                                               (keyed by article)

* **Sign.**  Under each band's key ``b<band>:<shard of the band value>`` (``2**key_bits`` shards
  per band) goes the entry ``(article_id, ts, band value, count + band checks + signature)``;
  under ``x:<shard of the content hash>`` the exact-copy entry.  Texts under ``min_words`` words
  get only the exact-copy key.
* **Probe bands** (``keyed.ProbeCandidateKeys``).  Two entries with the same band value (or the
  same content hash) within ``ttl_s`` are compared; a pair sharing several bands is compared
  only in the first of them (the entries carry 16 bits of every band value to tell).  The later
  article gets ``NEAR`` (accepted on the estimate), ``EXACT`` (same content hash) or ``VERIFY``
  (undecided: sent to its decide key *and* to the earlier article's fingerprint key).
* **Look up fingerprints.**  Keyed by ``f:<hour of ts>:<shard of article_id>``: holds the
  fingerprints of the articles first seen in that hour (no text), answers each ``VERIFY`` pair
  by sending the earlier article's fingerprint to the later article's decide key (a pair asked
  before the fingerprint came waits for it).  One event-time timer per key, set when the key is
  created, frees it when no article can be compared with that hour any more (``ttl_s`` +
  ``allowed_lateness_s`` after it ends).
* **Decide** (``keyed.DecideOnce``).  ``duplicate_of`` = the earliest ``(ts, article_id)``
  confirmed copy: ``NEAR``/``EXACT`` edges, and ``VERIFY`` pairs checked on the fingerprints
  (on the estimate when the fingerprint did not come, counted ``neardup_checks_on_estimates``);
  ``duplicate_score`` = the similarity that confirmed it (1.0 for an exact copy).

A copy that matches only an intermediate copy (edits drifting further at each hop) names that
copy in ``duplicate_of``; the ``articles`` view and ``newsbeam compact`` follow such chains to
the earliest copy (``pipelines/sql/views.sql``).

State per article: its band entries and exact-copy entry (reported by the counter
distribution ``neardup_state_bytes_per_article``) and its fingerprint, for ``ttl_s`` +
``allowed_lateness_s``.  Timers per article: one (the decision), plus one per fingerprint key.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
import numpy.typing as npt
from apache_beam.coders import BytesCoder, StrUtf8Coder, TupleCoder, VarIntCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindow, TimestampedValue

from transforms import metrics
from transforms.keyed import (
    SECOND_US,
    STORED_CODER,
    Decidable,
    DecideOnce,
    Edge,
    ProbeCandidateKeys,
    Stored,
    ToDecide,
    ToProbe,
    TypedCoder,
    article_message,
    at,
    micros,
    shard,
)
from transforms.minhash import (
    Signature,
    band_values,
    compact_signature,
    containment_estimate,
    fingerprint,
    fingerprint_similarity,
    jaccard_estimate,
    minhash,
    permutations,
    shingle_hashes,
    shingle_words,
)
from transforms.records import Article
from transforms.worker import fast_state_sizing

DAY_S = 86400.0
END = GlobalWindow().max_timestamp()


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearDupSettings:
    """What counts as a near-duplicate and how long it is remembered.

    ``bands`` x ``rows`` of the ``num_perm`` MinHash values form the LSH bands; all ``num_perm``
    values (``signature_bits`` of each: b-bit MinHash) are stored per band entry to estimate the
    similarity.  The default 32 x 2 was chosen with ``benchmarks/neardup_quality.py --tune`` on
    half of the ECB+ topics (figures in ``benchmarks/README.md``): the fewest bands whose
    candidates hold >= 99.5% of the gold pairs.  Rows of 2 because pairs confirmed by
    containment go down to Jaccard 0.2, where rows of 3 or 4 rarely collide; 8 bits per value
    estimate as well as 16 and halve the state.  ``key_bits``: each band's values are hashed
    into ``2**key_bits`` keys (the key space is bounded, so keys need no idle timers): a key
    holds about rate x (TTL + lateness) / 2**key_bits entries, and entries past the TTL go when
    the key is next touched, every 2**key_bits / rate on average (12 bits: ~20 minutes at three
    articles a second; raise it for tens of articles a second).
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
    allowed_lateness_s: float = DAY_S  # math.inf: arrivals in any order (bounded input), nothing pruned
    key_bits: int = 12
    # A candidate pair whose decision would flip if its estimated Jaccard moved by this much is
    # checked exactly, on the two articles' shingle fingerprints (0: decide on the estimates).
    # 0.15 is ~3.4 standard errors of a 128-value 8-bit estimate at J = 0.5 (set from that
    # figure, not tuned).
    verify_margin: float = 0.15

    def __post_init__(self) -> None:
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm or self.bands > 255:
            raise ValueError(
                f"bands x rows ({self.bands} x {self.rows}) must fit in num_perm ({self.num_perm}), "
                "with at most 255 bands"
            )
        if self.signature_bits not in (8, 16, 32):
            raise ValueError("signature_bits must be 8, 16 or 32")
        if self.shingle_size < 1 or self.min_words < 0:
            raise ValueError("shingle_size must be positive and min_words not negative")
        if self.ttl_s <= 0 or self.allowed_lateness_s < 0:
            raise ValueError("ttl_s must be positive and allowed_lateness_s not negative")
        if not 0 <= self.key_bits <= 24:
            raise ValueError("key_bits must be within [0, 24]")
        for name in (
            "jaccard_threshold",
            "containment_threshold",
            "containment_min_jaccard",
            "verify_margin",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")


# --------------------------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------------------------


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


ACCEPT, REJECT, VERIFY_PAIR = "accept", "reject", "verify"


def estimate_verdict(
    jaccard: float, count_a: int, count_b: int, settings: NearDupSettings
) -> tuple[str, float | None]:
    """``(verdict, score on the estimates)`` of a candidate pair from its estimated Jaccard.

    ``ACCEPT`` or ``REJECT`` when the confirm rule gives the same answer for every Jaccard
    within ``verify_margin`` of the estimate (containment follows the Jaccard: it is estimated
    from it and the exact shingle counts, and the rule is monotone in both), else ``VERIFY_PAIR``:
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
    return VERIFY_PAIR, estimate


# --------------------------------------------------------------------------------------------
# Signing: an article's entries, fingerprint and keys
# --------------------------------------------------------------------------------------------

EXACT, NEAR, VERIFY, FINGERPRINT = 1, 2, 3, 4  # edge kinds
EXACT_PREFIX = "x:"
_COUNT = struct.Struct("<I")
FINGERPRINT_HOUR_US = 3600 * SECOND_US
FINGERPRINT_KEY_BITS = 6  # 64 fingerprint keys per hour


class BandPayload(NamedTuple):
    """What a band entry carries: the text's distinct shingle count, 16 bits of every band value
    (to tell the first band two texts share) and the b-bit signature."""

    shingles: int
    checks: bytes
    signature: bytes


def pack_payload(p: BandPayload) -> bytes:
    return _COUNT.pack(p.shingles) + p.checks + p.signature


@lru_cache(maxsize=1 << 14)  # a pure function of the bytes: a memo, not state
def unpack_payload(data: bytes, bands: int) -> BandPayload:
    end = _COUNT.size + 2 * bands
    return BandPayload(_COUNT.unpack_from(data)[0], data[_COUNT.size : end], data[end:])


def first_shared_band(a: bytes, b: bytes) -> int | None:
    """The first band whose 16-bit checks agree (None if none does)."""
    agree = np.flatnonzero(np.frombuffer(a, dtype="<u2") == np.frombuffer(b, dtype="<u2"))
    return int(agree[0]) if agree.size else None


def band_key(band: int, value: bytes, key_bits: int) -> str:
    return f"b{band:02x}:{shard(value, key_bits):x}"


def exact_key(content_hash: str, key_bits: int) -> str:
    return (
        EXACT_PREFIX + f"{shard(hashlib.blake2b(content_hash.encode(), digest_size=8).digest(), key_bits):x}"
    )


def fingerprint_key(article_id: str, ts: int) -> str:
    """The key holding an article's fingerprint: its hour and a shard of its id."""
    digest = hashlib.blake2b(article_id.encode(), digest_size=8).digest()
    return f"f:{ts // FINGERPRINT_HOUR_US}:{shard(digest, FINGERPRINT_KEY_BITS):x}"


@dataclass(frozen=True)
class Signed:
    """An article's entries under its candidate keys, and its fingerprint (near texts only)."""

    entries: tuple[tuple[str, Stored], ...]
    near: bool  # long enough for band keys, not only the exact-copy key
    fingerprint: bytes = b""
    payload: BandPayload | None = None  # what each band entry carries (near texts only)


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

    def sign(self, article_id: str, ts: int, text: str, content_hash: str | None) -> Signed:
        s = self.settings
        hashes, words = self.hashes(text)
        count = int(hashes.shape[0])
        entries = []
        if content_hash:
            exact = Stored(article_id, ts, content_hash.encode(), b"")
            entries.append((exact_key(content_hash, s.key_bits), exact))
        if words < s.min_words or count == 0:
            return Signed(tuple(entries), False)
        signature = minhash(hashes, self.perms)
        values = band_values(signature, s.bands, s.rows)
        checks = b"".join(v[:2] for v in values)
        payload = BandPayload(count, checks, compact_signature(signature, s.signature_bits))
        packed = pack_payload(payload)
        for band, value in enumerate(values):
            entries.append((band_key(band, value, s.key_bits), Stored(article_id, ts, value, packed)))
        verify = fingerprint(hashes) if s.verify_margin > 0 else b""
        return Signed(tuple(entries), True, verify, payload)


def state_bytes(signed: Signed) -> int:
    """Bytes of state one article occupies: its entries (as stored) and its fingerprint."""
    return sum(len(STORED_CODER.encode(tuple(entry))) for _, entry in signed.entries) + len(
        signed.fingerprint
    )


# --------------------------------------------------------------------------------------------
# Comparing two entries (the probe), and the decision
# --------------------------------------------------------------------------------------------

NO_ESTIMATE = -1.0  # a VERIFY edge's score when the estimates confirm nothing


def pair_verdict(a: BandPayload, b: BandPayload, settings: NearDupSettings) -> tuple[str, float | None]:
    """``estimate_verdict`` of two band entries, from their signatures and shingle counts."""
    jaccard = jaccard_estimate(a.signature, b.signature, settings.signature_bits)
    return estimate_verdict(jaccard, a.shingles, b.shingles, settings)


class BandComparison:
    """``keyed.Comparison`` for band and exact-copy keys (see the module docstring)."""

    def __init__(self, settings: NearDupSettings) -> None:
        self.settings = settings
        self.reach_us = round(settings.ttl_s * SECOND_US)
        self.lateness_us = (
            None
            if math.isinf(settings.allowed_lateness_s)
            else round(settings.allowed_lateness_s * SECOND_US)
        )

    def setup(self) -> None:
        pass

    def compare(self, key: str, earlier: Stored, later: Stored) -> Edge | None:
        if key.startswith(EXACT_PREFIX):
            return Edge(EXACT, earlier.article_id, earlier.ts, 1.0)
        s = self.settings
        a, b = unpack_payload(earlier.payload, s.bands), unpack_payload(later.payload, s.bands)
        if first_shared_band(a.checks, b.checks) != int(key[1:3], 16):
            return None  # an earlier band they share compares them
        verdict, score = pair_verdict(a, b, s)
        if verdict == ACCEPT and score is not None:
            return Edge(NEAR, earlier.article_id, earlier.ts, score)
        if verdict == VERIFY_PAIR:
            return Edge(VERIFY, earlier.article_id, earlier.ts, NO_ESTIMATE if score is None else score)
        return None


class Match(NamedTuple):
    """An earlier article an article was confirmed against."""

    ts: int
    article_id: str
    score: float
    exact: bool

    def rank(self) -> tuple[int, str, bool, float]:
        """Earliest first; for the same article, the exact-copy result first (score 1.0)."""
        return (self.ts, self.article_id, not self.exact, -self.score)


def duplicate_of(
    edges: Sequence[Edge], own_fingerprint: Callable[[], bytes], settings: NearDupSettings
) -> tuple[Match | None, int, int]:
    """``(earliest confirmed match, pairs checked exactly, pairs decided on the estimate)``.

    ``own_fingerprint``: a callable giving the article's fingerprint, called only when a pair
    earlier than every confirmed match needs the exact check.
    """
    matches = [
        Match(e.other_ts, e.other_id, e.score, e.kind == EXACT) for e in edges if e.kind in (EXACT, NEAR)
    ]
    best = min(matches, key=Match.rank) if matches else None
    fingerprints = {(e.other_id, e.other_ts): e.payload for e in edges if e.kind == FINGERPRINT}
    pending = sorted(
        {
            (e.other_ts, e.other_id): e
            for e in edges
            if e.kind == VERIFY and (best is None or (e.other_ts, e.other_id) < (best.ts, best.article_id))
        }.items()
    )
    checked = estimated = 0
    mine: bytes | None = None
    for (ts, article_id), edge in pending:
        stored = fingerprints.get((article_id, ts))
        if stored is None:
            estimated += 1
            score = None if edge.score == NO_ESTIMATE else edge.score
        else:
            checked += 1
            mine = own_fingerprint() if mine is None else mine
            score = confirm(*fingerprint_similarity(mine, stored), settings)
        if score is not None:
            return Match(ts, article_id, score, False), checked, estimated
    return best, checked, estimated


class NearDupDecision:
    """``keyed.Decision``: ``duplicate_of``/``duplicate_score`` from the article's edges."""

    def __init__(self, settings: NearDupSettings) -> None:
        self.settings = settings

    def setup(self) -> None:
        self._signer = Signer(self.settings)
        self._checked = metrics.counter("neardup_pairs_checked_exactly")
        self._estimated = metrics.counter("neardup_checks_on_estimates")
        self._near = metrics.counter("near_duplicates")
        self._exact = metrics.counter("exact_duplicates")
        self._canonical = metrics.counter("neardup_canonical")

    def decide(self, article: Article, edges: Sequence[Edge]) -> Article:
        best, checked, estimated = duplicate_of(
            edges, lambda: self._signer.fingerprint(article.text), self.settings
        )
        self._checked.inc(checked)
        self._estimated.inc(estimated)
        if best is None:
            self._canonical.inc()
            return article
        (self._exact if best.exact else self._near).inc()
        return replace(article, duplicate_of=best.article_id, duplicate_score=round(best.score, 4))


def reference_marks(
    articles: Sequence[tuple[int, Article]], settings: NearDupSettings
) -> dict[str, Match | None]:
    """What ``MarkNearDuplicates`` decides, in one plain loop: ``(ts, article)`` pairs taken in
    ``(ts, article_id)`` order, each compared with the earlier ones within the TTL that share a
    candidate key value with it.  The reference of the tests and the loop of the benchmarks."""
    signer = Signer(settings)
    comparison = BandComparison(settings)
    buckets: dict[tuple[str, bytes], list[Stored]] = defaultdict(list)
    fingerprints: dict[tuple[str, int], bytes] = {}
    out: dict[str, Match | None] = {}
    for ts, article in sorted(articles, key=lambda pair: (pair[0], pair[1].article_id)):
        signed = signer.sign(article.article_id, ts, article.text, article.content_hash)
        edges = []
        for key, entry in signed.entries:
            for other in buckets[key, entry.tag]:
                if ts - other.ts < comparison.reach_us and (edge := comparison.compare(key, other, entry)):
                    edges.append(edge)
            buckets[key, entry.tag].append(entry)
        for edge in [e for e in edges if e.kind == VERIFY and (e.other_id, e.other_ts) in fingerprints]:
            edges.append(edge._replace(kind=FINGERPRINT, payload=fingerprints[edge.other_id, edge.other_ts]))
        fingerprints[article.article_id, ts] = signed.fingerprint
        out[article.article_id] = duplicate_of(edges, partial(bytes, signed.fingerprint), settings)[0]
    return out


# --------------------------------------------------------------------------------------------
# DoFns (thin) and the composite transform
# --------------------------------------------------------------------------------------------


class FingerprintMessage(NamedTuple):
    """To a fingerprint key: an article's fingerprint (``requester`` empty), or a lookup of it
    asked by the decide key ``requester`` (``fingerprint`` empty)."""

    article_id: str
    ts: int
    requester: str
    fingerprint: bytes


FINGERPRINT_CODER = TupleCoder([StrUtf8Coder(), VarIntCoder(), StrUtf8Coder(), BytesCoder()])


class FingerprintMessageCoder(TypedCoder):
    hint, fields = FingerprintMessage, FINGERPRINT_CODER


beam.coders.registry.register_coder(FingerprintMessage, FingerprintMessageCoder)
ToFingerprints = tuple[str, FingerprintMessage]
DECIDE, FINGERPRINTS, LOOKUPS = "decide", "fingerprints", "lookups"


class _SignFn(beam.DoFn):
    """Article → its entries under its candidate keys, its fingerprint, and itself to its decision."""

    def __init__(self, settings: NearDupSettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        self._signer = Signer(self._settings)
        self._short = metrics.counter("neardup_exact_only")
        self._state_bytes = metrics.distribution("neardup_state_bytes_per_article")

    def process(self, article: Article, timestamp: Any = beam.DoFn.TimestampParam) -> Iterator[Any]:
        ts = micros(timestamp)
        signed = self._signer.sign(article.article_id, ts, article.text, article.content_hash)
        if not signed.near:
            self._short.inc()
        self._state_bytes.update(state_bytes(signed))
        yield beam.pvalue.TaggedOutput(DECIDE, article_message(article, ts))
        if signed.fingerprint:
            message = FingerprintMessage(article.article_id, ts, "", signed.fingerprint)
            yield beam.pvalue.TaggedOutput(
                FINGERPRINTS, TimestampedValue((fingerprint_key(article.article_id, ts), message), at(ts))
            )
        for key, entry in signed.entries:
            yield TimestampedValue((key, entry), at(ts))


class _RouteLookupsFn(beam.DoFn):
    """Edges on to their decisions; each ``VERIFY`` pair also asks for the earlier fingerprint."""

    def process(self, element: Decidable, timestamp: Any = beam.DoFn.TimestampParam) -> Iterator[Any]:
        yield element
        edge = element[1].edge
        if edge is not None and edge.kind == VERIFY:
            lookup = FingerprintMessage(edge.other_id, edge.other_ts, element[0], b"")
            yield beam.pvalue.TaggedOutput(LOOKUPS, (fingerprint_key(edge.other_id, edge.other_ts), lookup))


class _LookUpFingerprintsFn(beam.DoFn):
    """Keyed by ``fingerprint_key``: the fingerprints of one hour's articles (one shard of them),
    sent to the decisions that ask for them (see the module docstring)."""

    FINGERPRINTS = BagStateSpec("fingerprints", FINGERPRINT_CODER)
    WAITING = BagStateSpec("waiting", FINGERPRINT_CODER)
    PENDING = ReadModifyWriteStateSpec("pending", VarIntCoder())  # lookups waiting; None: a new key
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, settings: NearDupSettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._timer_sets = metrics.counter("keyed_timer_sets")
        self._unanswered = metrics.counter("neardup_lookups_unanswered")

    def _answer(self, requester: str, found: FingerprintMessage, timestamp: Any) -> TimestampedValue:
        edge = Edge(FINGERPRINT, found.article_id, found.ts, 0.0, found.fingerprint)
        return TimestampedValue((requester, ToDecide(edge=edge)), timestamp)

    def process(
        self,
        element: ToFingerprints,
        timestamp: Any = beam.DoFn.TimestampParam,
        fingerprints: Any = beam.DoFn.StateParam(FINGERPRINTS),
        waiting: Any = beam.DoFn.StateParam(WAITING),
        pending: Any = beam.DoFn.StateParam(PENDING),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Iterator[TimestampedValue]:
        key, message = element
        count = pending.read()
        if count is None:
            s = self._settings
            hour_end = (int(key.split(":")[1]) + 1) * FINGERPRINT_HOUR_US
            reach_s = s.ttl_s + s.allowed_lateness_s
            expire.set(END if math.isinf(reach_s) else min(at(hour_end + round(reach_s * SECOND_US)), END))
            self._timer_sets.inc()
            count = 0
            pending.write(0)
        if not message.requester:  # a fingerprint
            fingerprints.add(tuple(message))
            if count:
                asked = [FingerprintMessage(*row) for row in waiting.read()]
                mine = [m for m in asked if (m.article_id, m.ts) == (message.article_id, message.ts)]
                if mine:
                    for lookup in mine:
                        yield self._answer(lookup.requester, message, timestamp)
                    rest = [m for m in asked if m not in mine]
                    waiting.clear()
                    for lookup in rest:
                        waiting.add(tuple(lookup))
                    pending.write(len(rest))
            return
        for row in fingerprints.read():
            found = FingerprintMessage(*row)
            if (found.article_id, found.ts) == (message.article_id, message.ts):
                yield self._answer(message.requester, found, timestamp)
                return
        waiting.add(tuple(message))
        pending.write(count + 1)

    @on_timer(EXPIRE)
    def expire(
        self,
        fingerprints: Any = beam.DoFn.StateParam(FINGERPRINTS),
        waiting: Any = beam.DoFn.StateParam(WAITING),
        pending: Any = beam.DoFn.StateParam(PENDING),
    ) -> None:
        self._unanswered.inc(pending.read() or 0)
        fingerprints.clear()
        waiting.clear()
        pending.clear()


class MarkNearDuplicates(beam.PTransform):
    """``Article`` in, ``Article`` out: later copies get ``duplicate_of``/``duplicate_score``.

    Element timestamps must be the articles' ``first_seen_at`` (see ``transforms.keyed``); the
    canonical copy is the earliest by ``(first_seen_at, article_id)``.
    """

    def __init__(self, settings: NearDupSettings | None = None) -> None:
        super().__init__()
        self._settings = settings or NearDupSettings()

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        s = self._settings
        signed = articles | "Sign articles" >> beam.ParDo(_SignFn(s)).with_output_types(
            ToProbe, decide=Decidable, fingerprints=ToFingerprints
        ).with_outputs(DECIDE, FINGERPRINTS, main="entries")
        routed = (
            signed.entries
            | "Probe bands" >> beam.ParDo(ProbeCandidateKeys(BandComparison(s))).with_output_types(Decidable)
            | "Route pairs to check"
            >> beam.ParDo(_RouteLookupsFn())
            .with_output_types(Decidable, lookups=ToFingerprints)
            .with_outputs(LOOKUPS, main="edges")
        )
        answers = (
            (signed[FINGERPRINTS], routed[LOOKUPS])
            | "Merge fingerprints and lookups" >> beam.Flatten().with_output_types(ToFingerprints)
            | "Look up fingerprints" >> beam.ParDo(_LookUpFingerprintsFn(s)).with_output_types(Decidable)
        )
        return (
            (signed[DECIDE], routed.edges, answers)
            | "Merge articles and edges" >> beam.Flatten().with_output_types(Decidable)
            | "Decide near-duplicates"
            >> beam.ParDo(DecideOnce(NearDupDecision(s))).with_output_types(Article)
        )
