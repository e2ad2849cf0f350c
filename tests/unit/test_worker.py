"""The worker's state-cache weigher: same sizes as Beam's, computed without the rescans."""

from __future__ import annotations

from typing import Any

import pytest
from apache_beam.runners.worker import statecache

from transforms.worker import fast_state_sizing

VALUES: list[Any] = [
    b"x" * 1000,
    [("article", 1.5, b"s" * 128) for _ in range(10)],
    {"seen": {f"k{i}": float(i) for i in range(50)}},
    None,
]


def test_fast_sizing_gives_beams_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    original = statecache.get_deep_size
    monkeypatch.setattr(statecache, "get_deep_size", original)  # restored after the test
    expected = [original(value) for value in VALUES]
    assert fast_state_sizing()
    assert statecache.get_deep_size is not original
    assert [statecache.get_deep_size(value) for value in VALUES] == expected
    patched = statecache.get_deep_size
    assert fast_state_sizing() and statecache.get_deep_size is patched  # idempotent
