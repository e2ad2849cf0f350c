"""What the keyed stages (``neardup``, ``stories``) share: gather keys and items, and the timers
of a key whose arrivals are released in ``(first_seen_at, article_id)`` order.

Both stages scatter an article to candidate keys (LSH bands, blocking keys), where it is compared
with the earlier articles the key holds, and gather the per-key results back under the article's
own key.  A candidate key buffers arrivals and releases them when the watermark passes them
(``wake``, an event-time timer), or on arrival in local streaming runs (see
``NearDupSettings.release_on_arrival``); once nothing is buffered, ``wake`` is re-armed for the
moment the newest stored entry can no longer be reached, to free an idle key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apache_beam.utils.timestamp import Timestamp

ARTICLE = "article"  # gather items: (ARTICLE, (article, number of parts to expect))
PART = "part"  # (PART, what one key found for the article)
STARTED = "started"  # (STARTED, wall-clock time the key started waiting)


def gather_key(article_id: str, ts: float) -> str:
    """Key of an article's gather: its id and first-seen time (in µs, exact)."""
    return f"{article_id}@{round(ts * 1e6)}"


def gather_key_ts(key: str) -> float:
    """The first-seen time in a gather key."""
    return int(key.rsplit("@", 1)[1]) / 1e6


def idle_wake(wake: Any, stored: Sequence[float], reach_s: float) -> None:
    """Wake the key when its newest stored entry (first-seen times ``stored``) is out of reach."""
    if stored:
        wake.set(Timestamp.of(max(stored) + reach_s))


def rearm_after_release(
    wake: Any,
    slots: Any,
    fired_at: Timestamp,
    waiting: Sequence[float],
    stored: Sequence[float],
    reach_s: float | None,
) -> None:
    """After ``wake`` released a key at ``fired_at``: wake again for the earliest entry still
    buffered, else (``reach_s`` not None: idle keys are freed) when the stored entries are out of
    reach; a key whose entries are already out of reach is cleared now, since re-arming at the
    time the timer fired would make it fire again at once."""
    if waiting:
        wake.set(Timestamp.of(min(waiting)))
    elif stored and reach_s is not None:
        idle_at = Timestamp.of(max(stored) + reach_s)
        if idle_at > fired_at:
            wake.set(idle_at)
        else:
            slots.clear()
