"""Stage 4a, ``DropSeenUrls``: keep the first record per key (a normalised URL) within a TTL.

State per key is the event time at which the key was first kept.  Expiry is decided in
``process`` from that stored timestamp, so correctness never depends on a timer firing; the
timer only frees idle keys, and it too checks the stored timestamp before clearing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import apache_beam as beam
from apache_beam.coders import FloatCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from transforms import metrics
from transforms.worker import fast_state_sizing

T = TypeVar("T")


def is_duplicate(first_seen: float | None, now: float, ttl_s: float) -> bool:
    """Whether a key first kept at ``first_seen`` is still a duplicate at ``now``."""
    return first_seen is not None and now - first_seen < ttl_s


class _FirstPerKeyFn(beam.DoFn):
    FIRST_SEEN = ReadModifyWriteStateSpec("first_seen", FloatCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, ttl_s: float, reason: str, allowed_lateness_s: float) -> None:
        self._ttl_s = ttl_s
        self._reason = reason
        self._lateness_s = allowed_lateness_s

    def setup(self) -> None:
        fast_state_sizing()  # see transforms/worker.py
        self._dropped = metrics.counter(f"duplicates_{self._reason}")

    def process(
        self,
        element: tuple[str, Any],
        timestamp: Any = beam.DoFn.TimestampParam,
        first_seen: Any = beam.DoFn.StateParam(FIRST_SEEN),
        expiry: Any = beam.DoFn.TimerParam(EXPIRY),
    ) -> Iterator[Any]:
        _, record = element
        now = float(timestamp)
        if is_duplicate(first_seen.read(), now, self._ttl_s):
            self._dropped.inc()
            return
        first_seen.write(now)
        # Kept past the TTL by the allowed lateness, so that a repeat arriving late
        # (event time within the TTL, after the watermark passed it) is still caught.
        expiry.set(Timestamp.of(now + self._ttl_s + self._lateness_s))
        yield record

    @on_timer(EXPIRY)
    def expire(
        self,
        fired_at: Any = beam.DoFn.TimestampParam,
        first_seen: Any = beam.DoFn.StateParam(FIRST_SEEN),
    ) -> None:
        stored = first_seen.read()
        if stored is not None and not is_duplicate(stored, float(fired_at), self._ttl_s + self._lateness_s):
            first_seen.clear()


class DropSeenUrls(beam.PTransform):
    """Drop records whose ``key`` was already kept less than ``ttl_s`` ago (event time).

    ``reason`` names the counter of drops (``duplicates_<reason>``).  A key's state is
    freed ``ttl_s + allowed_lateness_s`` after it was kept; a repeat arriving later than
    that behind the watermark is kept again.
    """

    def __init__(
        self, key: Callable[[Any], str], ttl_s: float, reason: str, allowed_lateness_s: float = 86400.0
    ) -> None:
        super().__init__()
        if ttl_s <= 0 or allowed_lateness_s < 0:
            raise ValueError("ttl_s must be positive and allowed_lateness_s not negative")
        self._key = key
        self._ttl_s = ttl_s
        self._reason = reason
        self._lateness_s = allowed_lateness_s

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        key = self._key
        return (
            records
            | "Key by URL"
            >> beam.Map(lambda record: (key(record), record)).with_output_types(tuple[str, Any])
            | "Keep first" >> beam.ParDo(_FirstPerKeyFn(self._ttl_s, self._reason, self._lateness_s))
        )
