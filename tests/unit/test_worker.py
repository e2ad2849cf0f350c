"""The worker's state-cache weigher: same sizes as Beam's, computed without the rescans."""

from __future__ import annotations

from typing import Any

import objsize
import pytest
from apache_beam.runners.worker import statecache

from transforms.worker import fast_state_sizing

VALUES: list[Any] = [
    b"x" * 1000,
    [("article", 1.5, b"s" * 128) for _ in range(10)],
    {"seen": {f"k{i}": float(i) for i in range(50)}},
    None,
]


def beams_size(value: Any) -> int:
    """What Beam 2.75's statecache.get_deep_size computes (module globals rescanned)."""
    return int(
        objsize.get_deep_size(
            value,
            get_size_func=statecache._size_func,
            get_referents_func=statecache._get_referents_func,
            filter_func=statecache._filter_func,
        )
    )


def test_fast_sizing_gives_beams_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pipelines run earlier in this process may have installed it already: start unpatched.
    monkeypatch.setattr(statecache, "get_deep_size", beams_size)
    assert fast_state_sizing()
    patched = statecache.get_deep_size
    assert patched is not beams_size
    assert [patched(value) for value in VALUES] == [beams_size(value) for value in VALUES]
    assert fast_state_sizing() and statecache.get_deep_size is patched  # idempotent
