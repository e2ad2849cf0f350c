"""Per-worker-process tuning, applied from the ``setup()`` of newsbeam's stateful DoFns.

Beam's SDK worker (2.75) weighs every value it puts in its state cache with
``objsize.get_deep_size``, which by default rebuilds the set of all loaded modules' globals on
every call: with Beam, spaCy and their dependencies loaded (~1,300 modules) that is 1 to 10 ms per
state read or write, whatever the value — measured, it made the near-duplicate stage ~30x
slower than the same work in a loop.  ``fast_state_sizing`` gives the cache the same weigher
with that set computed once per process (and again only when modules have been imported since),
so sizes are unchanged and only the repeated work goes.  If Beam's internals differ from what
this expects, nothing is changed.
"""

from __future__ import annotations

import sys
from typing import Any

_PATCHED = "_newsbeam_fast_sizing"


def fast_state_sizing() -> bool:
    """Install the cached-exclusions weigher in this process; True if it is (now) installed."""
    try:
        import objsize
        from apache_beam.runners.worker import statecache
        from objsize.traverse import _iter_modules_globals
    except ImportError:
        return False
    if getattr(statecache.get_deep_size, _PATCHED, False):
        return True
    required = ("_size_func", "_get_referents_func", "_filter_func", "get_deep_size")
    if not all(hasattr(statecache, name) for name in required):
        return False
    # objsize only adds id(None) to a given exclude set (no `exclude=` is passed), so one set
    # can be shared by every call.
    excluded: dict[str, Any] = {"modules": -1, "ids": set()}

    def get_deep_size(*objs: Any) -> int:
        if excluded["modules"] != len(sys.modules):
            excluded["ids"] = {id(None), *map(id, _iter_modules_globals())}
            excluded["modules"] = len(sys.modules)
        return int(
            objsize.get_deep_size(
                *objs,
                get_size_func=statecache._size_func,
                get_referents_func=statecache._get_referents_func,
                filter_func=statecache._filter_func,
                exclude_modules_globals=False,
                exclude_set=excluded["ids"],
            )
        )

    setattr(get_deep_size, _PATCHED, True)
    statecache.get_deep_size = get_deep_size
    return True
