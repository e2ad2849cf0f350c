"""The timer arithmetic shared by the keyed stages (``transforms.keyed``)."""

from __future__ import annotations

from apache_beam.utils.timestamp import Timestamp

from transforms.keyed import gather_key, gather_key_ts, idle_wake, rearm_after_release


class Timer:
    def __init__(self) -> None:
        self.at: Timestamp | None = None

    def set(self, ts: Timestamp) -> None:
        self.at = ts


class Bag:
    def __init__(self) -> None:
        self.cleared = False

    def clear(self) -> None:
        self.cleared = True


def test_gather_key_round_trips_the_first_seen_time_to_the_microsecond() -> None:
    key = gather_key("a@b", 1750000000.123456)
    assert key == "a@b@1750000000123456"
    assert gather_key_ts(key) == 1750000000.123456


def test_rearm_wakes_for_the_earliest_buffered_entry_first() -> None:
    wake, slots = Timer(), Bag()
    rearm_after_release(wake, slots, Timestamp.of(100), [300.0, 200.0], [50.0, 200.0, 300.0], 1000.0)
    assert wake.at == Timestamp.of(200) and not slots.cleared


def test_rearm_frees_an_idle_key_once_its_newest_entry_is_out_of_reach() -> None:
    wake, slots = Timer(), Bag()
    rearm_after_release(wake, slots, Timestamp.of(100), [], [50.0, 80.0], 1000.0)
    assert wake.at == Timestamp.of(1080) and not slots.cleared
    # fired when the newest entry is already out of reach: cleared, not re-armed at the same time
    wake, slots = Timer(), Bag()
    rearm_after_release(wake, slots, Timestamp.of(1080), [], [50.0, 80.0], 1000.0)
    assert wake.at is None and slots.cleared
    # idle keys are not freed (timers that fire early): nothing is armed
    wake, slots = Timer(), Bag()
    rearm_after_release(wake, slots, Timestamp.of(100), [], [50.0], None)
    assert wake.at is None and not slots.cleared


def test_idle_wake_follows_the_newest_stored_entry() -> None:
    wake = Timer()
    idle_wake(wake, [10.0, 40.0, 20.0], 100.0)
    assert wake.at == Timestamp.of(140)
    wake = Timer()
    idle_wake(wake, [], 100.0)
    assert wake.at is None
