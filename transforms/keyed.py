"""Probe on arrival, decide once per article: the keyed idiom of the comparison stages.

Near-duplicates (``transforms.neardup``) and stories (``transforms.stories``) both find, for
each article, the *earlier* articles it relates to.  Each signs an article into candidate keys
and wires the two steps defined here (near-duplicates add an exact check in between)::

    Article ─ 'Sign …' ─┬─ (candidate key, Stored) ─ ProbeCandidateKeys ─ (decide key, ToDecide(edge)) ─┐
      (stage)           └─ (decide key, ToDecide(article)) ─────────────────────────────────────── DecideOnce ─ Article

**Time.**  ``ts`` is an article's element timestamp in integer microseconds, floored to the
millisecond (portable runners, Prism and Flink among them, carry timestamps in milliseconds).
The pipeline stamps articles with ``first_seen_at``; ``DecideOnce`` re-emits each article one
millisecond later, so in every stage the order ``(ts, article_id)`` is the first-seen order.

**Probe** (``ProbeCandidateKeys``, keyed by a candidate key; ``process`` only, no timers).  A
key holds one bag of ``Stored`` entries.  An arrival X is compared with every stored entry Y
that has the same ``tag``, another article id and ``|X.ts - Y.ts| < reach``, in both
directions: the stage's ``compare(key, earlier, later)`` scores the pair and the edge, if any,
goes to the later article's decide key, stamped with X's own timestamp (never behind the
watermark when X is not late).  Then X is stored.  An entry at or before ``newest - reach -
lateness`` (``newest``: the key's latest ts) can match no arrival within the allowed lateness:
such entries are dropped when they make up half of the bag or more, so a rewrite costs O(1) per
entry.  Bounded input comes in any order (its watermark moves only at the end): there the
lateness is unbounded and nothing is pruned (``lateness_us`` None).  Stages
hash their fine keys (band values, terms) into a bounded key space, so keys need no idle
timers: a key that goes quiet keeps at most what it held when last touched, and the number of
keys is fixed.

**Decide** (``DecideOnce``, keyed by ``decide_key(article_id, ts)``).  State: the article
(one cell) and its edges (a bag).  One event-time timer at ``ts + 1 ms``, set when the article
arrives, or when an edge from an earlier arrival finds no article.  Every edge addressed to an
article is stamped before ``ts + 1 ms`` (it comes from processing the article or an earlier
one), so when the watermark reaches ``ts + 1 ms`` every edge from on-time input has arrived, on
a runner whose event-time timers hold the output watermark (the Beam model; Prism, Flink and
Dataflow do, the Python BundleBasedDirectRunner does not); the stage's ``decide(article,
edges)`` then runs once and the article is emitted at ``ts + 1 ms``.  An edge arriving after its
article was decided (from late input) finds no article: its timer fires at once and the edge is
dropped (counter ``keyed_late_edges``).

**Determinism.**  An edge depends only on the two entries; every pair within reach is compared
exactly once per shared key, by whichever of the two arrives second; a decision depends only on
the article and the set of its edges.  So on a runner with correct watermarks (Flink, Dataflow,
TestStream, and bounded input, where the watermark jumps to the end) the output does not
depend on the arrival order, the bundling or the number of workers.

Counters (namespace ``newsbeam``): ``keyed_timer_sets``, ``keyed_late_arrivals``,
``keyed_late_edges``, ``keyed_entries_pruned``; distribution ``keyed_entries_read``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol

import apache_beam as beam
from apache_beam.coders import BytesCoder, FloatCoder, StrUtf8Coder, TupleCoder, VarIntCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms import metrics
from transforms.coders import ArticleCoder, RecordCoder
from transforms.records import Article
from transforms.worker import fast_state_sizing

SECOND_US = 1_000_000
TICK_US = 1000  # portable runners carry element and timer timestamps in milliseconds


def micros(timestamp: Timestamp) -> int:
    """An element timestamp in integer microseconds, floored to the millisecond (``TICK_US``)."""
    return int(timestamp.micros) // TICK_US * TICK_US


def at(micros_: int) -> Timestamp:
    return Timestamp(micros=micros_)


def decide_key(article_id: str, ts: int) -> str:
    """The key of an article's decision: its id and timestamp (µs), so a re-ingested article is new."""
    return f"{article_id}@{ts}"


def decide_key_ts(key: str) -> int:
    return int(key.rsplit("@", 1)[1])


def shard(fine_key: bytes, bits: int) -> int:
    """A fine key (band value, term) hashed into ``2**bits`` shards, the same on every worker."""
    return int.from_bytes(fine_key[-8:].rjust(8, b"\0"), "big") % (1 << bits) if bits else 0


class Stored(NamedTuple):
    """What a candidate key holds per article: never the article itself.

    ``tag``: the fine key (only entries with equal tags are compared); ``payload``: the stage's
    compact summary of the article (a MinHash signature, story features).
    """

    article_id: str
    ts: int
    tag: bytes
    payload: bytes


class Edge(NamedTuple):
    """A relation found between an article and the earlier article ``other_id``.

    ``kind`` and ``payload`` are the stage's (near-duplicate, exact copy, pair to check; story
    link); ``score`` the similarity that was found.
    """

    kind: int
    other_id: str
    other_ts: int
    score: float
    payload: bytes = b""


class ToDecide(NamedTuple):
    """A message for ``DecideOnce``: the article itself, or one edge (exactly one is set)."""

    article: Article | None = None
    edge: Edge | None = None


STORED_CODER = TupleCoder([StrUtf8Coder(), VarIntCoder(), BytesCoder(), BytesCoder()])
EDGE_CODER = TupleCoder([VarIntCoder(), StrUtf8Coder(), VarIntCoder(), FloatCoder(), BytesCoder()])
ARTICLE_CODER = ArticleCoder()


class TypedCoder(RecordCoder):
    """A NamedTuple (``hint``) through a deterministic tuple coder (``fields``)."""

    fields: TupleCoder

    def encode(self, value: Any) -> bytes:
        return bytes(self.fields.encode(tuple(value)))

    def decode(self, encoded: bytes) -> Any:
        return self.hint(*self.fields.decode(encoded))


class StoredCoder(TypedCoder):
    hint, fields = Stored, STORED_CODER


class EdgeCoder(TypedCoder):
    hint, fields = Edge, EDGE_CODER


class ToDecideCoder(RecordCoder):
    """``ToDecide``: a tag byte, then the article or the edge."""

    hint = ToDecide

    def encode(self, value: ToDecide) -> bytes:
        if value.article is not None:
            return b"a" + ARTICLE_CODER.encode(value.article)
        assert value.edge is not None
        return b"e" + bytes(EDGE_CODER.encode(tuple(value.edge)))

    def decode(self, encoded: bytes) -> ToDecide:
        if encoded[:1] == b"a":
            return ToDecide(article=ARTICLE_CODER.decode(encoded[1:]))
        return ToDecide(edge=Edge(*EDGE_CODER.decode(encoded[1:])))


beam.coders.registry.register_coder(Stored, StoredCoder)
beam.coders.registry.register_coder(Edge, EdgeCoder)
beam.coders.registry.register_coder(ToDecide, ToDecideCoder)

ToProbe = tuple[str, Stored]
Decidable = tuple[str, ToDecide]


def article_message(article: Article, ts: int) -> TimestampedValue:
    """The article, to its own decide key."""
    return TimestampedValue((decide_key(article.article_id, ts), ToDecide(article=article)), at(ts))


# --------------------------------------------------------------------------------------------
# Probe


class Comparison(Protocol):
    """What a stage tells ``ProbeCandidateKeys``: how far apart two articles may be, and how to
    compare them."""

    reach_us: int  # pairs at least this far apart are never compared
    lateness_us: int | None  # how far behind a key's newest entry an arrival may still come (None: any)

    def setup(self) -> None: ...

    def compare(self, key: str, earlier: Stored, later: Stored) -> Edge | None:
        """The edge from ``later`` to ``earlier`` if they are related (same tag, within reach).

        Must depend on the two entries and the key only; a stage whose articles share several
        keys returns an edge from one of them (e.g. the first they share), so each pair gives
        one edge.
        """
        ...


def in_reach(a: Stored, b: Stored, reach_us: int) -> bool:
    return a.tag == b.tag and a.article_id != b.article_id and abs(a.ts - b.ts) < reach_us


def probe(
    key: str, arrival: Stored, stored: Sequence[Stored], comparison: Comparison
) -> Iterator[tuple[Stored, Edge]]:
    """``(later entry, edge)`` for every stored entry the arrival relates to, in both directions."""
    for other in stored:
        if not in_reach(arrival, other, comparison.reach_us):
            continue
        earlier, later = sorted((arrival, other), key=lambda e: (e.ts, e.article_id))
        edge = comparison.compare(key, earlier, later)
        if edge is not None:
            yield later, edge


class Pruned(NamedTuple):
    live: list[Stored]  # entries an on-time arrival may still match
    expired: int  # entries no on-time arrival can match
    late: bool  # the arrival is more than the lateness behind the key's newest entry


def prune(stored: Sequence[Stored], arrival: Stored, comparison: Comparison) -> Pruned:
    """Split a key's entries (before ``arrival`` is added) by what can still match (everything,
    when any lateness is allowed)."""
    if comparison.lateness_us is None:
        return Pruned(list(stored), 0, False)
    newest = max([arrival.ts, *(e.ts for e in stored)])
    horizon = newest - comparison.reach_us - comparison.lateness_us
    live = [e for e in stored if e.ts > horizon]
    return Pruned(live, len(stored) - len(live), arrival.ts < newest - comparison.lateness_us)


class ProbeCandidateKeys(beam.DoFn):
    """Keyed by a candidate key: compare each arrival with the key's entries, then store it."""

    ENTRIES = BagStateSpec("entries", STORED_CODER)

    def __init__(self, comparison: Comparison) -> None:
        self._comparison = comparison

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._comparison.setup()
        self._late = metrics.counter("keyed_late_arrivals")
        self._pruned = metrics.counter("keyed_entries_pruned")
        self._read = metrics.distribution("keyed_entries_read")

    def process(
        self,
        element: ToProbe,
        timestamp: Any = beam.DoFn.TimestampParam,
        entries: Any = beam.DoFn.StateParam(ENTRIES),
    ) -> Iterator[TimestampedValue]:
        key, arrival = element
        stored = [Stored(*row) for row in entries.read()]
        self._read.update(len(stored))
        pruned = prune(stored, arrival, self._comparison) if stored else Pruned([], 0, False)
        if pruned.late:
            self._late.inc()
        for later, edge in probe(key, arrival, pruned.live, self._comparison):
            yield TimestampedValue((decide_key(later.article_id, later.ts), ToDecide(edge=edge)), timestamp)
        if pruned.expired and pruned.expired >= len(pruned.live):
            self._pruned.inc(pruned.expired)
            entries.clear()
            for entry in pruned.live:
                entries.add(tuple(entry))
        entries.add(tuple(arrival))


# --------------------------------------------------------------------------------------------
# Decide


class Decision(Protocol):
    """What a stage tells ``DecideOnce``: the article's fields set from its edges."""

    def setup(self) -> None: ...

    def decide(self, article: Article, edges: Sequence[Edge]) -> Article: ...


class DecideOnce(beam.DoFn):
    """Keyed by ``decide_key``: the article and its edges; decides once, when the watermark has
    passed the article (see the module docstring)."""

    ARTICLE = ReadModifyWriteStateSpec("article", ARTICLE_CODER)
    EDGES = BagStateSpec("edges", EDGE_CODER)
    DECIDE = TimerSpec("decide", TimeDomain.WATERMARK)

    def __init__(self, decision: Decision) -> None:
        self._decision = decision

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._decision.setup()
        self._timer_sets = metrics.counter("keyed_timer_sets")
        self._late_edges = metrics.counter("keyed_late_edges")

    def process(
        self,
        element: Decidable,
        timestamp: Any = beam.DoFn.TimestampParam,
        article: Any = beam.DoFn.StateParam(ARTICLE),
        edges: Any = beam.DoFn.StateParam(EDGES),
        decide: Any = beam.DoFn.TimerParam(DECIDE),
    ) -> None:
        key, message = element
        ts = decide_key_ts(key)
        if message.article is not None:
            article.write(message.article)
        else:
            assert message.edge is not None
            edges.add(tuple(message.edge))
            if micros(timestamp) >= ts or article.read() is not None:
                # An edge stamped at the article's own time comes from an arrival no earlier than
                # it, which its own message, signed with it, is on its way to: that message sets
                # the timer.  Else the article is here already and has set it.
                return
        decide.set(at(ts + TICK_US))
        self._timer_sets.inc()

    @on_timer(DECIDE)
    def on_decide(
        self,
        fired_at: Any = beam.DoFn.TimestampParam,
        article: Any = beam.DoFn.StateParam(ARTICLE),
        edges: Any = beam.DoFn.StateParam(EDGES),
    ) -> Iterator[TimestampedValue]:
        held = article.read()
        found = [Edge(*row) for row in edges.read()]
        article.clear()
        edges.clear()
        if held is None:
            self._late_edges.inc(len(found))
            return
        yield TimestampedValue(self._decision.decide(held, found), fired_at)
