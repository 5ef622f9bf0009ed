"""Group commit: concurrent small write transactions share one database transaction.

LangGraph saves a checkpoint and each task's writes as separate calls, and a 9-way fan-out
makes nine of them at once. Each alone pays a pool checkout, `BEGIN` and a `COMMIT` (a WAL flush
on PostgreSQL) that cost more than its statements. Here the first caller becomes the leader and
runs every job queued meanwhile in one transaction; each caller still returns only after the
transaction holding its job has committed, so nothing is acknowledged before it is durable.
A batch that fails is rolled back and its jobs re-run one by one, so an error reaches only the
caller whose job caused it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# A job is a function of a DBAPI cursor, run inside a transaction it does not manage.
Job = Callable[[Any], Any]
# Runs a list of jobs in one transaction and returns their results, or raises.
BatchRunner = Callable[[list[Job]], list[Any]]

MAX_BATCH = 64
# Batches a leader runs before handing the role on, so no caller waits behind a long stream.
MAX_ROUNDS = 4


class _Ticket:
    __slots__ = ("done", "error", "job", "lead", "result")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.done = threading.Event()
        self.lead = False
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommitter:
    """Batches jobs submitted from many threads into shared transactions."""

    def __init__(self, run_batch: BatchRunner) -> None:
        self._run_batch = run_batch
        self._lock = threading.Lock()
        self._queue: list[_Ticket] = []
        self._leading = False
        self.batches = 0
        self.jobs = 0

    def submit(self, job: Job) -> Any:
        """Run `job` in some committed transaction; return its result or raise its error."""
        ticket = _Ticket(job)
        with self._lock:
            self._queue.append(ticket)
            lead = not self._leading
            if lead:
                self._leading = True
        if not lead:
            ticket.done.wait()
            if ticket.lead:  # promoted: a previous leader handed the role over
                ticket.done.clear()
                self._lead()
        else:
            self._lead()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _lead(self) -> None:
        for _ in range(MAX_ROUNDS):
            with self._lock:
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                if not batch:
                    self._leading = False
                    return
            self._run(batch)
        with self._lock:
            if not self._queue:
                self._leading = False
                return
            heir = self._queue[0]  # its job stays queued: it runs it first as the new leader
            heir.lead = True
        heir.done.set()

    def _run(self, batch: list[_Ticket]) -> None:
        self.batches += 1
        self.jobs += len(batch)
        try:
            results = self._run_batch([t.job for t in batch])
        except BaseException:
            for ticket in batch:
                self._run_alone(ticket)
            return
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result
            ticket.done.set()

    def _run_alone(self, ticket: _Ticket) -> None:
        try:
            ticket.result = self._run_batch([ticket.job])[0]
        except BaseException as exc:
            ticket.error = exc
        ticket.done.set()
