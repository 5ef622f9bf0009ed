"""The checkpoint saver's statements, built once per dialect.

Statements are constructed once and reused, so SQLAlchemy's compiled cache serves every call;
only upserts differ between SQLite and PostgreSQL, and both come from SQLAlchemy's own
dialect `insert()`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, literal_column, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from reasonmed.storage.schema import checkpoint_blobs as B
from reasonmed.storage.schema import checkpoint_writes as W
from reasonmed.storage.schema import checkpoints as C

CHECKPOINT_COLUMNS = (
    C.c.thread_id,
    C.c.checkpoint_ns,
    C.c.checkpoint_id,
    C.c.parent_checkpoint_id,
    C.c.type,
    C.c.checkpoint,
    C.c.metadata,
)
WRITE_COLUMNS = (W.c.task_id, W.c.task_path, W.c.idx, W.c.channel, W.c.type, W.c.blob)


class Statements:
    """Prebuilt statements for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
        up = ins(C)
        self.upsert_checkpoint = up.on_conflict_do_update(
            index_elements=[C.c.thread_id, C.c.checkpoint_ns, C.c.checkpoint_id],
            set_={
                "checkpoint": up.excluded.checkpoint,
                "type": up.excluded.type,
                "metadata": up.excluded.metadata,
            },
        )
        self.insert_blobs = ins(B).on_conflict_do_nothing()
        self.insert_writes = ins(W).on_conflict_do_nothing()
        upw = ins(W)
        self.upsert_writes = upw.on_conflict_do_update(
            index_elements=[
                W.c.thread_id,
                W.c.checkpoint_ns,
                W.c.checkpoint_id,
                W.c.task_id,
                W.c.idx,
            ],
            set_={
                "channel": upw.excluded.channel,
                "type": upw.excluded.type,
                "blob": upw.excluded.blob,
                "task_path": upw.excluded.task_path,
            },
        )
        # compact(): a thread's regular writes that a loop-made child checkpoint folded in.
        child = C.alias("child")
        source = literal_column(
            "child.metadata ->> 'source'"
            if dialect == "postgresql"
            else "json_extract(child.metadata, '$.source')"
        )
        folded = (
            select(literal_column("1"))
            .select_from(child)
            .where(
                child.c.thread_id == W.c.thread_id,
                child.c.checkpoint_ns == W.c.checkpoint_ns,
                child.c.parent_checkpoint_id == W.c.checkpoint_id,
                source == literal_column("'loop'"),
            )
            .exists()
        )
        self.compact_writes = delete(W).where(
            W.c.thread_id == bindparam("thread_id"), W.c.idx >= literal_column("0"), folded
        )
        thread_ns = (C.c.thread_id == bindparam("thread_id")) & (
            C.c.checkpoint_ns == bindparam("checkpoint_ns")
        )
        self.select_checkpoint = select(*CHECKPOINT_COLUMNS).where(
            thread_ns, C.c.checkpoint_id == bindparam("checkpoint_id")
        )
        self.select_latest = (
            select(*CHECKPOINT_COLUMNS).where(thread_ns).order_by(C.c.checkpoint_id.desc()).limit(1)
        )
        self.select_writes = select(*WRITE_COLUMNS).where(
            W.c.thread_id == bindparam("thread_id"),
            W.c.checkpoint_ns == bindparam("checkpoint_ns"),
            W.c.checkpoint_id == bindparam("checkpoint_id"),
        )

    def select_blobs(self, thread_id: str, ns: str, refs: list[tuple[str, str]]) -> Select:
        """Blobs of one checkpoint: (channel, type, blob) for the given (channel, version)s."""
        return select(B.c.channel, B.c.type, B.c.blob).where(
            B.c.thread_id == thread_id,
            B.c.checkpoint_ns == ns,
            tuple_(B.c.channel, B.c.version).in_(refs),
        )

    def select_blobs_many(self, keys: list[tuple[str, str, str, str]]) -> Select:
        """Blobs of several checkpoints, by (thread, ns, channel, version)."""
        return select(
            B.c.thread_id, B.c.checkpoint_ns, B.c.channel, B.c.version, B.c.type, B.c.blob
        ).where(tuple_(B.c.thread_id, B.c.checkpoint_ns, B.c.channel, B.c.version).in_(keys))

    def select_writes_many(self, keys: list[tuple[str, str, str]]) -> Select:
        """Pending writes of several checkpoints, by (thread, ns, checkpoint id)."""
        return select(W.c.thread_id, W.c.checkpoint_ns, W.c.checkpoint_id, *WRITE_COLUMNS).where(
            tuple_(W.c.thread_id, W.c.checkpoint_ns, W.c.checkpoint_id).in_(keys)
        )

    def metadata_filter(self, key: str, value: Any) -> Any | None:
        """A SQL predicate narrowing rows to `metadata[key] == value`, or None to check in Python.

        The caller re-checks every row in Python, so a predicate may be looser than equality
        (PostgreSQL's `@>` treats lists as containment) but never stricter.
        """
        if key in ("run_id", "reasonmed_run_id", "question_id") and isinstance(value, str):
            return C.c[key] == value
        if self.dialect == "postgresql":
            return C.c.metadata.op("@>")(bindparam(None, {key: value}, type_=JSONB))
        if '"' in key or "\\" in key:
            return None
        path = f'$."{key}"'
        if value is None:
            return func.json_type(C.c.metadata, path) == "null"
        if isinstance(value, bool | int | float | str):
            return func.json_extract(C.c.metadata, path) == value
        return None


@cache
def statements(dialect: str) -> Statements:
    """The statements of a dialect, built on first use."""
    return Statements(dialect)


def delete_rows(table: Any, thread_ids: list[str]) -> Any:
    """Delete every row of `table` that belongs to the given threads."""
    return delete(table).where(table.c.thread_id.in_(thread_ids))
