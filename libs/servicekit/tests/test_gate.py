"""servicekit.web.gate (ADR 0101): at most `max_active` requests run at once, the rest wait in arrival
order, and one who waited too long is told 503 with Retry-After; a turn is never lost or given twice."""

from __future__ import annotations

import asyncio

import pytest

from servicekit.web.gate import Busy, Gate


async def _hold(gate: Gate, name: str, order: list[str], release: asyncio.Event) -> None:
    async with gate.turn():
        order.append(name)
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_no_more_than_max_active_run_and_the_rest_enter_in_arrival_order() -> None:
    gate = Gate(2, 60)
    order: list[str] = []
    releases = {name: asyncio.Event() for name in "abcde"}
    tasks = []
    for name in "abcde":
        tasks.append(asyncio.create_task(_hold(gate, name, order, releases[name])))
        await _settle()
    assert order == ["a", "b"]
    assert (gate.active, gate.waiting) == (2, 3)
    releases["b"].set()
    await _settle()
    assert order == ["a", "b", "c"]  # the first waiting, not whoever the loop picks
    releases["a"].set()
    await _settle()
    assert order == ["a", "b", "c", "d"]
    for event in releases.values():
        event.set()
    await asyncio.gather(*tasks)
    assert order == list("abcde")
    assert (gate.active, gate.waiting) == (0, 0)


async def test_a_request_that_waits_past_wait_s_is_busy_with_retry_after_and_keeps_no_turn() -> None:
    gate = Gate(1, 0.01)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, "a", [], release))
    await _settle()
    with pytest.raises(Busy) as refused:
        async with gate.turn():
            raise AssertionError("no turn was free")
    problem = refused.value
    assert (problem.status, problem.code) == (503, "TEMPORARILY_UNAVAILABLE")
    assert problem.headers["Retry-After"] == "1"
    assert (gate.active, gate.waiting) == (1, 0)
    release.set()
    await holder
    async with gate.turn():  # the turn the holder gave back is free for the next
        assert gate.active == 1
    assert gate.active == 0


async def test_a_waiter_that_goes_away_leaves_its_place_and_the_next_gets_the_turn() -> None:
    gate = Gate(1, 60)
    order: list[str] = []
    release_a, release_c = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(_hold(gate, "a", order, release_a))
    await _settle()
    b = asyncio.create_task(_hold(gate, "b", order, asyncio.Event()))
    await _settle()
    c = asyncio.create_task(_hold(gate, "c", order, release_c))
    await _settle()
    b.cancel()  # the client hung up while waiting
    await _settle()
    assert gate.waiting == 1
    release_a.set()
    await _settle()
    assert order == ["a", "c"]
    release_c.set()
    await asyncio.gather(a, c)
    with pytest.raises(asyncio.CancelledError):
        await b
    assert (gate.active, gate.waiting) == (0, 0)


async def test_a_turn_handed_over_as_the_wait_ends_is_passed_on_not_lost() -> None:
    """The holder leaves and the waiter's timeout fires in the same loop iteration: the turn it was given
    goes to the next in line (or back to the free count), never nowhere."""
    gate = Gate(1, 60)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, "a", [], release))
    await _settle()
    waiter = asyncio.create_task(_hold(gate, "b", [], asyncio.Event()))
    await _settle()
    release.set()
    await asyncio.sleep(0)  # the holder leaves: the turn is set on b's future ...
    waiter.cancel()  # ... and b is cancelled before it runs again
    await asyncio.gather(holder, waiter, return_exceptions=True)
    assert (gate.active, gate.waiting) == (0, 0)
    async with gate.turn():
        assert gate.active == 1


async def test_zero_lets_everything_in() -> None:
    gate = Gate(0, 0)
    entered = 0

    async def one() -> None:
        nonlocal entered
        async with gate.turn():
            entered += 1
            await asyncio.sleep(0)

    await asyncio.gather(*(one() for _ in range(100)))
    assert entered == 100
    assert gate.waiting == 0
