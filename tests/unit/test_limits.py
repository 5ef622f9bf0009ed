"""AdaptiveLimit on its own: cuts once per burst, raises after successes, never over-grants."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonmed.llm.limits import AdaptiveLimit, LimitStats


async def settle() -> None:
    """Let every task that can run, run (no wall time)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def hold(limit: AdaptiveLimit, n: int) -> list[int]:
    """Take n slots that are free right now; their epochs."""
    return [await asyncio.wait_for(limit.acquire(), 0.1) for _ in range(n)]


def waiting_tasks(limit: AdaptiveLimit, n: int, **kwargs: bool) -> list[asyncio.Task[int]]:
    return [asyncio.create_task(limit.acquire(**kwargs)) for _ in range(n)]


async def test_a_burst_of_429s_cuts_the_cap_once() -> None:
    limit = AdaptiveLimit(8)
    epochs = await hold(limit, 8)
    cuts = [limit.on_throttled(epoch) for epoch in epochs]  # all sent under the old cap
    assert cuts == [True] + [False] * 7
    assert (limit.cap, limit.stats().cuts, limit.stats().throttles) == (6, 1, 8)
    for _ in epochs:
        limit.release()
    (later,) = await hold(limit, 1)  # started after the cut: its 429 is news
    assert limit.on_throttled(later) and limit.cap == 4  # floor(6 * 3 / 4)


async def test_the_cap_never_drops_below_one() -> None:
    limit = AdaptiveLimit(2)
    for expected in (1, 1, 1):
        (epoch,) = await hold(limit, 1)
        limit.on_throttled(epoch)
        limit.release()
        assert limit.cap == expected
    assert limit.stats().cuts == 1 and limit.stats().lowest_cap == 1


async def test_successes_raise_the_cap_one_step_per_cap_successes_up_to_the_max() -> None:
    limit = AdaptiveLimit(8)
    limit.on_throttled(0)
    assert limit.cap == 6
    for _ in range(5):
        limit.on_success()
    limit.on_throttled(0)  # an old burst's 429: no cut, but the streak starts again
    assert limit.cap == 6
    for _ in range(5):
        limit.on_success()
    assert limit.cap == 6
    limit.on_success()
    assert limit.cap == 7
    for _ in range(7 + 100):
        limit.on_success()
    assert limit.stats() == LimitStats(
        cap=8,
        max_cap=8,
        lowest_cap=6,
        in_flight=0,
        peak_in_flight=0,
        waiting=0,
        throttles=2,
        cuts=1,
        raises=2,
    )


async def test_lowering_the_cap_lets_requests_in_flight_drain() -> None:
    limit = AdaptiveLimit(4)
    epochs = await hold(limit, 4)
    limit.on_throttled(epochs[0])
    assert (limit.cap, limit.in_flight) == (3, 4)  # nothing in flight was cancelled
    (waiter,) = waiting_tasks(limit, 1)
    limit.release()
    await settle()
    assert not waiter.done()  # 3 in flight is the new cap
    limit.release()
    await settle()
    assert waiter.done() and limit.in_flight == 3


async def test_waiters_wake_when_the_cap_rises() -> None:
    limit = AdaptiveLimit(4)
    epochs = await hold(limit, 4)
    limit.on_throttled(epochs[0])
    limit.release()  # 3 in flight, cap 3
    waiters = waiting_tasks(limit, 3)
    await settle()
    assert not any(w.done() for w in waiters)
    for _ in range(3):
        limit.on_success()
    await settle()
    assert limit.cap == 4 and [w.done() for w in waiters] == [True, False, False]  # FIFO
    assert limit.stats().waiting == 2


async def test_retry_after_pauses_fresh_requests_but_not_retries_that_waited() -> None:
    limit = AdaptiveLimit(4)
    (epoch,) = await hold(limit, 1)
    start = time.monotonic()
    limit.on_throttled(epoch, retry_after=0.2)
    limit.release()
    (fresh,) = waiting_tasks(limit, 1)
    (retry,) = waiting_tasks(limit, 1, waited=True)
    await settle()
    assert retry.done() and not fresh.done()
    await asyncio.wait_for(fresh, 2)
    assert time.monotonic() - start >= 0.19


async def test_retries_go_before_fresh_requests() -> None:
    limit = AdaptiveLimit(1)
    await hold(limit, 1)
    (fresh,) = waiting_tasks(limit, 1)
    (retry,) = waiting_tasks(limit, 1, waited=True)
    await settle()
    limit.release()
    await settle()
    assert retry.done() and not fresh.done()


async def test_a_later_429_extends_the_pause() -> None:
    limit = AdaptiveLimit(4)
    epochs = await hold(limit, 2)
    start = time.monotonic()
    limit.on_throttled(epochs[0], retry_after=0.05)
    (fresh,) = waiting_tasks(limit, 1)
    await settle()
    limit.on_throttled(epochs[1], retry_after=0.25)
    await asyncio.wait_for(fresh, 2)
    assert time.monotonic() - start >= 0.24


async def test_cancelled_waiters_do_not_leak_slots() -> None:
    limit = AdaptiveLimit(1)
    await hold(limit, 1)
    queued, granted, last = waiting_tasks(limit, 3)
    await settle()
    queued.cancel()  # cancelled while waiting
    limit.release()  # the slot goes to `granted`, which is cancelled before it runs
    granted.cancel()
    await settle()
    assert queued.cancelled() and granted.cancelled()
    assert last.done() and limit.in_flight == 1 and limit.stats().waiting == 0


async def test_slot_reports_its_own_epoch() -> None:
    limit = AdaptiveLimit(4)
    async with limit.slot() as early:
        async with limit.slot() as other:
            assert other.throttled() is True  # cap 4 -> 3
        assert early.throttled(retry_after=None) is False  # same burst
        early.succeeded()
    assert limit.cap == 3 and limit.in_flight == 0
    assert limit.slot().throttled() is False  # never granted: nothing to report
    async with limit:
        assert limit.in_flight == 1
    with pytest.raises(RuntimeError):
        limit.release()
    with pytest.raises(ValueError):
        AdaptiveLimit(0)


Step = tuple[int, int, bool, bool]  # yields before asking, yields holding, a retry, got a 429


async def run_schedule(max_cap: int, steps: list[Step]) -> LimitStats:
    """Run one task per step; after every call that can grant, check no grant broke the cap."""
    limit = AdaptiveLimit(max_cap)

    def checked(operation: Callable[[], object], releasing: bool = False) -> None:
        before = limit.in_flight - (1 if releasing else 0)
        operation()
        if limit.in_flight > before:  # someone was granted a slot just now
            assert limit.in_flight <= limit.cap <= max_cap

    async def one(delay: int, hold_for: int, waited: bool, throttled: bool) -> None:
        for _ in range(delay):
            await asyncio.sleep(0)
        epoch = await limit.acquire(waited=waited)
        for _ in range(hold_for):
            await asyncio.sleep(0)
        if throttled:
            checked(lambda: limit.on_throttled(epoch))
        else:
            checked(limit.on_success)
        checked(limit.release, releasing=True)

    await asyncio.wait_for(asyncio.gather(*(one(*step) for step in steps)), 5)
    return limit.stats()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 8),
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 6), st.booleans(), st.booleans()),
        max_size=60,
    ),
)
def test_random_schedules_never_grant_over_the_cap_and_always_finish(
    max_cap: int, steps: list[Step]
) -> None:
    stats = asyncio.run(run_schedule(max_cap, steps))
    assert stats.in_flight == 0 and stats.waiting == 0  # every waiter was woken, none leaked
    assert stats.peak_in_flight <= max_cap
    assert 1 <= stats.lowest_cap <= stats.cap <= max_cap
    assert stats.throttles == sum(throttled for *_, throttled in steps)
    assert stats.cuts <= stats.throttles
