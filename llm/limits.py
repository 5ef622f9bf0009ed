"""A per-alias cap on requests in flight that backs off under rate limits and creeps back up.

A fixed cap is either too low (an idle endpoint) or too high (a 429 storm that retries can only
make worse). ``AdaptiveLimit`` starts at the configured ``max_concurrency``; each 429 burst cuts
the cap to 3/4 (never below 1) and pauses new requests for the server's Retry-After; every run of
``cap`` consecutive successes raises it by one, back up to the maximum (additive increase,
multiplicative decrease, as TCP does with its congestion window).

A burst is the set of 429s answering requests that were already started when the cap was last
cut: those requests were sent under the old cap, so their 429s carry no news and do not cut
again. Only a 429 on a request started after the last cut cuts once more. Lowering the cap never
cancels a request: the ones in flight drain, and no new one starts until in-flight drops below
the new cap. Everything runs on the event loop (no threads, no locks): grants are handed to
waiters in FIFO order at the moment a slot frees, so a newcomer cannot barge past them; retries
that already slept out a Retry-After go first, since they are work already under way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from types import TracebackType

__all__ = ["AdaptiveLimit", "LimitStats", "Slot"]

CUT_FACTOR = (3, 4)  # on a new burst of 429s the cap becomes floor(cap * 3 / 4), at least 1


@dataclass(frozen=True)
class LimitStats:
    """A snapshot for status lines and benchmarks."""

    cap: int
    max_cap: int
    lowest_cap: int
    in_flight: int
    peak_in_flight: int
    waiting: int
    throttles: int  # 429s reported
    cuts: int
    raises: int


class AdaptiveLimit:
    """Caps requests in flight to one model alias; the cap adapts to the server's 429s.

    ``async with limit:`` holds one slot. To report outcomes, hold a ``slot()`` instead and call
    its ``succeeded()`` or ``throttled(retry_after)``: the slot remembers when it started, which
    is what decides whether its 429 opens a new burst.
    """

    def __init__(self, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_cap = max_concurrency
        self._cap = max_concurrency
        self._lowest = max_concurrency
        self._in_flight = 0
        self._peak = 0
        self._epoch = 0  # bumped by every cut: a slot's epoch says which burst it belongs to
        self._streak = 0  # consecutive successes since the last 429 or raise
        self._throttles = self._cuts = self._raises = 0
        # Waiters, oldest first: retries that already slept out a Retry-After, and the rest.
        self._retries: deque[asyncio.Future[int]] = deque()
        self._fresh: deque[asyncio.Future[int]] = deque()
        self._paused_until = 0.0  # loop time before which no fresh request starts
        self._timer: asyncio.TimerHandle | None = None

    @property
    def cap(self) -> int:
        """How many requests may be in flight now."""
        return self._cap

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def stats(self) -> LimitStats:
        """Current cap and counters."""
        return LimitStats(
            cap=self._cap,
            max_cap=self.max_cap,
            lowest_cap=self._lowest,
            in_flight=self._in_flight,
            peak_in_flight=self._peak,
            waiting=len(self._retries) + len(self._fresh),
            throttles=self._throttles,
            cuts=self._cuts,
            raises=self._raises,
        )

    async def acquire(self, *, waited: bool = False) -> int:
        """Wait for a slot; return its epoch (the ticket ``on_throttled`` needs).

        ``waited`` marks a retry that already slept the server's Retry-After itself: it still
        needs a free slot under the cap, but it does not queue behind the alias's pause again,
        and it goes before fresh requests (it is work already under way).
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        queue = self._retries if waited else self._fresh
        queue.append(future)
        self._wake()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted, but cancelled before it could use the slot
            else:
                with contextlib.suppress(ValueError):
                    queue.remove(future)
            raise

    def release(self) -> None:
        """Give a slot back and hand it to the next waiter the cap allows."""
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._in_flight -= 1
        self._wake()

    def on_success(self) -> None:
        """Count a success; after ``cap`` in a row, raise the cap by one (up to the maximum).

        Waiting for a full cap's worth of successes means the current cap has been shown to
        work about once over before the next step up.
        """
        self._streak += 1
        if self._cap < self.max_cap and self._streak >= self._cap:
            self._cap += 1
            self._raises += 1
            self._streak = 0
            self._wake()

    def on_throttled(self, epoch: int, retry_after: float | None = None) -> bool:
        """Report a 429 on a slot acquired at ``epoch``; return whether it cut the cap.

        A ``retry_after`` (seconds) pauses fresh requests to this alias until it has passed.
        """
        self._throttles += 1
        self._streak = 0
        if retry_after is not None and retry_after > 0:
            loop = asyncio.get_running_loop()
            self._paused_until = max(self._paused_until, loop.time() + retry_after)
        cut = epoch == self._epoch and self._cap > 1
        if cut:
            self._cap = max(1, self._cap * CUT_FACTOR[0] // CUT_FACTOR[1])
            self._lowest = min(self._lowest, self._cap)
            self._epoch += 1
            self._cuts += 1
        self._wake()
        return cut

    def slot(self, *, waited: bool = False) -> Slot:
        """One request's slot, as an async context manager that can report its outcome."""
        return Slot(self, waited=waited)

    async def __aenter__(self) -> AdaptiveLimit:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def _wake(self) -> None:
        """Grant slots while the cap allows: retries first, then fresh requests unless paused."""
        loop = asyncio.get_running_loop()
        paused = loop.time() < self._paused_until
        for queue in (self._retries,) if paused else (self._retries, self._fresh):
            while queue and self._in_flight < self._cap:
                future = queue.popleft()
                if future.done():  # cancelled while queued
                    continue
                self._in_flight += 1
                self._peak = max(self._peak, self._in_flight)
                future.set_result(self._epoch)
        # Fresh requests held by the pause need a wake-up when it ends (a later 429 may extend it).
        stale = self._timer is None or self._timer.when() < self._paused_until
        if paused and self._fresh and stale:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(self._paused_until, self._pause_over, self._paused_until)

    def _pause_over(self, deadline: float) -> None:
        # A timer may fire a clock tick early; the pause it was set for is over all the same,
        # unless a later 429 has extended it meanwhile.
        self._timer = None
        if deadline >= self._paused_until:
            self._paused_until = 0.0
        self._wake()


class Slot:
    """One request's hold on an ``AdaptiveLimit``; remembers the epoch it started in."""

    def __init__(self, limit: AdaptiveLimit, *, waited: bool = False) -> None:
        self.limit = limit
        self.waited = waited
        self.epoch: int | None = None  # set once the slot is granted

    async def __aenter__(self) -> Slot:
        self.epoch = await self.limit.acquire(waited=self.waited)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.limit.release()

    def succeeded(self) -> None:
        """The request got a reply."""
        self.limit.on_success()

    def throttled(self, retry_after: float | None = None) -> bool:
        """The request got a 429; a slot never granted has nothing to report."""
        if self.epoch is None:
            return False
        return self.limit.on_throttled(self.epoch, retry_after)
