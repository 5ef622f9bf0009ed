"""Who works on which question, when several `run` processes share one run.

PostgreSQL: each question is claimed with a session-level advisory lock, held on one connection
of the process for as long as the question is in flight. A second process skips questions it
cannot lock, and the server drops every lock of a process that dies (its connection closes), so
a crash never leaves a question claimed: the next run simply takes it. After taking a lock the
runner re-reads the question's row, since the other process may have finished it meanwhile.

SQLite is one machine's embedded file: the whole run is locked (an exclusive `flock` on a file
next to the database), and a second process on the same run is refused with a clear error.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from reasonmed.storage.db import Database


class RunBusyError(RuntimeError):
    """Another process is running this run on the same SQLite database."""


class Claims(Protocol):
    """Claims on the questions of one run, for one process."""

    async def acquire(self, question_id: str) -> bool: ...

    async def release(self, question_id: str) -> None: ...

    def close(self) -> None: ...


def lock_key(run_id: str, question_id: str) -> int:
    """A signed 64-bit key for `pg_advisory_lock`; collisions are ~1e-9 at 10^5 questions."""
    digest = hashlib.blake2b(f"reasonmed:{run_id}:{question_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


class PostgresClaims:
    """One advisory lock per question in flight, on a connection owned by this process."""

    def __init__(self, db: Database, run_id: str) -> None:
        self.db, self.run_id = db, run_id
        self._conn: Any = db.engines.sync.raw_connection()
        self._conn.driver_connection.autocommit = True  # session-level locks, no transaction
        self._lock = threading.Lock()
        self.held: set[str] = set()

    def _call(self, sql: str, question_id: str) -> bool:
        with self._lock:
            cursor = self._conn.cursor()
            try:
                cursor.execute(sql, (lock_key(self.run_id, question_id),))
                return bool(cursor.fetchone()[0])
            finally:
                cursor.close()

    async def acquire(self, question_id: str) -> bool:
        """Claim the question unless another process holds it."""
        ok = await asyncio.to_thread(self._call, "SELECT pg_try_advisory_lock(%s)", question_id)
        if ok:
            self.held.add(question_id)
        return ok

    async def release(self, question_id: str) -> None:
        """Give the question back (it is finished, failed, or was found finished)."""
        if question_id in self.held:
            self.held.discard(question_id)
            await asyncio.to_thread(self._call, "SELECT pg_advisory_unlock(%s)", question_id)

    def close(self) -> None:
        """Closing the connection drops every lock it still holds."""
        self._conn.close()


class SqliteRunLock:
    """The whole run, locked for this process; every question is then this process's."""

    def __init__(self, db: Database, run_id: str) -> None:
        database = make_url(db.engines.sync.url.render_as_string(hide_password=False)).database
        self._file: Any = None
        if not database or database == ":memory:":
            return  # an in-memory database belongs to this process anyway
        name = hashlib.sha256(run_id.encode()).hexdigest()[:16]
        path = Path(f"{database}.run-{name}.lock")
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunBusyError(
                f"run {run_id!r} is being run by {holder} on {database}; an embedded SQLite "
                "run takes one process at a time (share a run between processes or machines "
                "on PostgreSQL)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        self._file = handle

    async def acquire(self, question_id: str) -> bool:
        return True

    async def release(self, question_id: str) -> None:
        return None

    def close(self) -> None:
        """Unlock the run (the lock file stays; it is reused)."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def open_claims(db: Database, run_id: str) -> Claims:
    """The claims that fit the database: per-question locks on PostgreSQL, a run lock on SQLite."""
    if db.dialect == "postgresql":
        return PostgresClaims(db, run_id)
    return SqliteRunLock(db, run_id)
