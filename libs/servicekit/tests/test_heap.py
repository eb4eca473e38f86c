"""servicekit.heap: start-up's objects frozen while an app runs, the collector as it was after the last."""

from __future__ import annotations

import gc

from servicekit.heap import YOUNG_THRESHOLD, server_heap


def test_frozen_while_serving_and_restored_after_the_last_of_nested_apps() -> None:
    before = gc.get_threshold()
    with server_heap():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        with server_heap():  # a second app in the same process (tests)
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the first still serves
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_is_still_collected() -> None:
    class Node:
        other: Node

    with server_heap():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
