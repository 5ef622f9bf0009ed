"""Group commit on the event loop: concurrent async writes share one database transaction.

The async twin of `group_commit.GroupCommitter`, for `ainvoke`. Sending each call to the thread
version costs it a hop to a worker thread and back plus a wake-up; here jobs queue on the loop
and one drain task hands them over in batches: on PostgreSQL to a native psycopg
`AsyncConnection` (awaiting the socket like the official async saver does), on SQLite to one
worker thread per batch. The guarantees are
the same: a caller returns only once the transaction holding its job has committed, and a batch
that fails is rolled back and its jobs re-run one by one, so an error reaches only the caller
whose job caused it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

# A job is a function of a DBAPI cursor (a coroutine function for an async cursor), run inside a
# transaction it does not manage; only the batch runner calls it.
AsyncJob = Callable[[Any], Any]
# Runs a list of jobs in one transaction and returns their results, or raises.
AsyncBatchRunner = Callable[[list[Any]], Awaitable[list[Any]]]

MAX_BATCH = 64


class AsyncGroupCommitter:
    """Batches jobs submitted by coroutines of one event loop into shared transactions."""

    def __init__(self, run_batch: AsyncBatchRunner) -> None:
        self._run_batch = run_batch
        self._queue: list[tuple[Any, asyncio.Future[Any]]] = []
        self._drain: asyncio.Task[None] | None = None
        self.batches = 0
        self.jobs = 0

    async def submit(self, job: Any) -> Any:
        """Run ``job`` in some committed transaction; return its result or raise its error."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((job, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_queue())
        return await future

    async def _drain_queue(self) -> None:
        while self._queue:
            batch = self._queue[:MAX_BATCH]
            del self._queue[:MAX_BATCH]
            await self._run(batch)

    async def _run(self, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        self.batches += 1
        self.jobs += len(batch)
        try:
            results = await self._run_batch([job for job, _ in batch])
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                for _, future in batch:
                    if not future.done():
                        future.cancel()
                raise
            for job, future in batch:
                await self._run_alone(job, future)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a caller cancelled meanwhile: its job committed anyway
                future.set_result(result)

    async def _run_alone(self, job: Any, future: asyncio.Future[Any]) -> None:
        try:
            result = (await self._run_batch([job]))[0]
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
