"""The write fast path (`Database.arun_fast`): concurrent jobs share transactions, an error
reaches only its own caller, and every acknowledged write is committed. Batches form on the
loop (`AsyncGroupCommitter`); PostgreSQL runs them on a psycopg AsyncConnection, SQLite on a
worker thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from reasonmed.storage.db import Database, Plan, Step

INSERT = text("INSERT INTO gc_probe (k, v) VALUES (:k, :v)")
COUNT = text("SELECT count(*) FROM gc_probe WHERE v = :v")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.from_url(db_url)
    with database.connect(write=True) as conn:
        conn.execute(text("CREATE TABLE gc_probe (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    yield database
    database.close()


def insert(*rows: tuple[int, str]) -> Plan:
    for k, v in rows:
        yield Step(INSERT, {"k": k, "v": v})
    counted = yield Step(COUNT, {"v": rows[0][1]}, fetch=True)
    return counted[0][0]


def count(db: Database) -> int:
    with db.connect(write=False) as conn:
        return conn.execute(text("SELECT count(*) FROM gc_probe")).scalar_one()


async def test_concurrent_writes_share_transactions_and_all_commit(db: Database) -> None:
    results = await asyncio.gather(
        *(
            db.arun_fast(lambda i=i: insert((2 * i, f"v{i}"), (2 * i + 1, f"v{i}")))
            for i in range(64)
        )
    )
    assert results == [2] * 64  # each job read its own rows inside its transaction
    assert count(db) == 128
    group = db._agroup
    assert group is not None and group.jobs == 64
    assert group.batches < 64  # shared transactions, not one commit per job


async def test_a_failing_job_fails_alone(db: Database) -> None:
    await db.arun_fast(lambda: insert((1, "first")))
    jobs = [lambda i=i: insert((100 + i, "ok")) for i in range(10)]
    jobs.insert(5, lambda: insert((1, "duplicate key")))  # primary key 1 exists
    results = await asyncio.gather(*(db.arun_fast(job) for job in jobs), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and results[5] is errors[0]
    assert "unique" in str(errors[0]).lower() or "duplicate" in str(errors[0]).lower()
    assert count(db) == 11  # the ten good jobs of the failed batch were re-run and committed
    assert await db.arun_fast(lambda: insert((500, "after"))) == 1  # the path still works


def test_the_fast_path_works_from_one_event_loop_after_another(db: Database) -> None:
    for i in range(3):  # asyncio.run gives each round a new loop
        assert asyncio.run(db.arun_fast(lambda i=i: insert((i, f"loop{i}")))) == 1
    assert count(db) == 3


def test_sync_callers_from_many_threads_share_transactions(db: Database) -> None:
    """`run_fast` (LangGraph's sync family, puts from background threads): the thread twin."""

    def first() -> Plan:  # holds its batch open until others queue behind it
        deadline = time.monotonic() + 10
        while len(db._group._queue) < 8 and time.monotonic() < deadline:
            time.sleep(0.005)
        return (yield from insert((0, "t0")))

    jobs = [first] + [lambda i=i: insert((i, f"t{i}")) for i in range(1, 64)]
    jobs.append(lambda: insert((3, "duplicate key")))
    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(db.run_fast, job) for job in jobs]
    results = [f.exception() or f.result() for f in futures]
    assert results[:64] == [1] * 64
    assert isinstance(results[64], Exception)
    assert count(db) == 64
    assert db._group.jobs >= 65 and db._group.batches < db._group.jobs
