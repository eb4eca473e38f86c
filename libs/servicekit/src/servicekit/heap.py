"""The cyclic garbage collector of a server process, set once its start-up is done (ADR 0100).

CPython's defaults suit short scripts, not an api process: a collection of the youngest generation every
700 net allocations of container objects is reached many times a second by the requests in flight (their
coroutines, frames and dicts, which die by reference counting a moment later anyway), and every so many of
those a full collection walks the whole heap — some 200,000 objects of modules, routes, models and pools
that live as long as the process. On plate-pool's hot path that was about 15 % of a replica's CPU.

`server_heap()` freezes what start-up made (`gc.freeze`: the full collections no longer walk it) and lets
the youngest generation grow to `YOUNG_THRESHOLD` before a collection. Reference counting still frees
nearly everything at once; only garbage in cycles waits, at most `YOUNG_THRESHOLD` objects' worth (a few
MB). When the last app of the process stops, the collector is as it was (a test process starts many apps,
some at once).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Well above what the requests in flight hold at once (64 draws hold a few thousand containers).
YOUNG_THRESHOLD = 20_000

_entered: list[tuple[int, int, int]] = []  # the thresholds before the outermost entry, once per entry


@contextmanager
def server_heap(young_threshold: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Within it: start-up's objects frozen out of the collector, and a larger youngest generation."""
    before = _entered[0] if _entered else gc.get_threshold()
    gc.collect()  # start-up's garbage goes now, not frozen for the process's life
    gc.freeze()
    gc.set_threshold(young_threshold, before[1], before[2])
    _entered.append(before)
    try:
        yield
    finally:
        _entered.pop()
        if not _entered:
            gc.set_threshold(*before)
            gc.unfreeze()
