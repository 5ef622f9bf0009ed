"""`SQLAlchemySaver`: one LangGraph checkpoint saver for SQLite and PostgreSQL.

Every operation is written once as a plan (see `checkpoint_plans`); this class hands plans to a
`Database`, which runs them synchronously for LangGraph's `invoke` and `get_state` and
asynchronously for `ainvoke` (see `storage.db` for how each database is driven).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from reasonmed.storage import checkpoint_plans as plans
from reasonmed.storage.checkpoint_sql import statements
from reasonmed.storage.db import Database, Plan
from reasonmed.storage.serde import checkpoint_serde


class SQLAlchemySaver(BaseCheckpointSaver[float]):
    """Checkpoints LangGraph state into SQLite or PostgreSQL through SQLAlchemy.

    Build it with `SQLAlchemySaver.from_url("sqlite:///run.db")` or
    `from_url("postgresql+psycopg://user@host/db")`; the schema is created or migrated then.
    Channel versions are floats whose fraction is random, so a fork of a thread never reuses a
    version key its other branch already stored. Without a `serde`, values are read back with
    `checkpoint_serde()`: strict msgpack with an explicit allowlist, never pickle.
    """

    def __init__(
        self,
        db: Database,
        *,
        serde: SerializerProtocol | None = None,
        owns_db: bool = False,
    ) -> None:
        super().__init__(serde=checkpoint_serde() if serde is None else serde)
        self.db = db
        self.engines = db.engines
        self._st = statements(db.dialect)
        self._owns_db = owns_db

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        serde: SerializerProtocol | None = None,
        pool_size: int = 10,
    ) -> SQLAlchemySaver:
        """A ready saver for a database URL; creates or migrates the schema."""
        return cls(Database.from_url(url, pool_size=pool_size), serde=serde, owns_db=True)

    def close(self) -> None:
        """Release the connection pools (when this saver created them)."""
        if self._owns_db:
            self.db.close()

    async def aclose(self) -> None:
        """Release the connection pools, async side included."""
        if self._owns_db:
            await self.db.aclose()

    def __enter__(self) -> SQLAlchemySaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> SQLAlchemySaver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _run(self, plan: Plan, *, write: bool) -> Any:
        return self.db.run(plan, write=write)

    async def _arun(self, plan: Plan, *, write: bool) -> Any:
        return await self.db.arun(plan, write=write)

    # put and put_writes are LangGraph's hot path (two calls per graph step); they go through
    # the database's fast path, which takes a plan factory (see `Database.run_fast`).
    def _put_plan(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Callable[[], Plan]:
        return plans.put(self._st, self.serde, config, checkpoint, metadata, new_versions)

    def _writes_plan(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> Callable[[], Plan]:
        return plans.put_writes(self._st, self.serde, config, writes, task_id, task_path)

    # -- sync family -----------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by `config`, or its thread's latest."""
        return self._run(plans.get_tuple(self._st, self.serde, config), write=False)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first; `config=None` lists across all threads."""
        cursor = None
        left = limit
        while left is None or left > 0:
            size = plans.LIST_PAGE if left is None else min(left, plans.LIST_PAGE)
            plan = plans.list_page(self._st, self.serde, config, filter, before, cursor, size)
            page, cursor = self._run(plan, write=False)
            if left is not None:
                page = page[:left]
                left -= len(page)
            yield from page
            if cursor is None:
                return

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; only channels in `new_versions` get new blob rows."""
        return self.db.run_fast(self._put_plan(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes against the checkpoint they follow."""
        self.db.run_fast(self._writes_plan(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Remove a thread's whole history."""
        self._run(plans.delete_threads([thread_id]), write=True)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Remove the checkpoints created by the given LangGraph runs."""
        self._run(plans.delete_for_runs(self.serde, run_ids), write=True)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread's history to a new thread id (used to fork a question's history)."""
        self._run(plans.copy_thread(source_thread_id, target_thread_id), write=True)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """`keep_latest`: keep each namespace's newest checkpoint; `delete`: drop the threads."""
        self._run(self._prune_plan(thread_ids, strategy), write=True)

    def compact(self, thread_ids: Sequence[str]) -> None:
        """Drop the writes of finished steps of these threads; their effect stays in history.

        For a thread that is done (the pipeline calls it when a question finishes): every
        checkpoint stays, so history, trace and forks are intact, but a step's regular writes,
        which the loop's next checkpoint already holds, are deleted. `get_state_history` then
        no longer lists the results of earlier steps' tasks, and forking from an old checkpoint
        re-runs its tasks. It roughly halves what a pipeline question stores.
        """
        self.db.run_fast(plans.compact(self._st, thread_ids))

    async def acompact(self, thread_ids: Sequence[str]) -> None:
        """Async `compact`."""
        await self.db.arun_fast(plans.compact(self._st, thread_ids))

    def _prune_plan(self, thread_ids: Sequence[str], strategy: str) -> Plan:
        if strategy == "delete":
            return plans.delete_threads(thread_ids)
        if strategy == "keep_latest":
            return plans.prune_keep_latest(self.serde, thread_ids)
        raise ValueError(f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")

    # -- async family ----------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async `get_tuple`."""
        return await self._arun(plans.get_tuple(self._st, self.serde, config), write=False)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async `list`."""
        cursor = None
        left = limit
        while left is None or left > 0:
            size = plans.LIST_PAGE if left is None else min(left, plans.LIST_PAGE)
            plan = plans.list_page(self._st, self.serde, config, filter, before, cursor, size)
            page, cursor = await self._arun(plan, write=False)
            if left is not None:
                page = page[:left]
                left -= len(page)
            for item in page:
                yield item
            if cursor is None:
                return

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async `put`."""
        return await self.db.arun_fast(self._put_plan(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async `put_writes`."""
        await self.db.arun_fast(self._writes_plan(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        """Async `delete_thread`."""
        await self._arun(plans.delete_threads([thread_id]), write=True)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async `delete_for_runs`."""
        await self._arun(plans.delete_for_runs(self.serde, run_ids), write=True)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async `copy_thread`."""
        await self._arun(plans.copy_thread(source_thread_id, target_thread_id), write=True)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async `prune`."""
        await self._arun(self._prune_plan(thread_ids, strategy), write=True)

    # -- versions --------------------------------------------------------------------------

    def get_next_version(self, current: float | int | str | None, channel: None) -> float:
        """Next integer step plus a random fraction: increasing, and unique across forks."""
        if current is None:
            base = 0
        elif isinstance(current, str):
            base = int(current.split(".")[0])
        else:
            base = int(current)
        return base + 1 + random.random() * 0.9
