"""The saver's operations as plans: generators that yield statements and receive their rows.

Writing each operation once as a plan lets one body serve both LangGraph's sync family (run by a
sync driver on a `Connection`) and its async family (run by an async driver on an
`AsyncConnection`), instead of two copies that drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from sqlalchemy import delete, func, literal, select, tuple_

from reasonmed.storage import checkpoint_rows as rows_
from reasonmed.storage.checkpoint_sql import CHECKPOINT_COLUMNS, Statements, delete_rows
from reasonmed.storage.db import Plan, Step
from reasonmed.storage.schema import CHECKPOINT_TABLES
from reasonmed.storage.schema import checkpoint_blobs as B
from reasonmed.storage.schema import checkpoint_writes as W
from reasonmed.storage.schema import checkpoints as C

LIST_PAGE = 100
IN_CHUNK = 300


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _target(config: RunnableConfig) -> tuple[str, str, str | None]:
    conf = config["configurable"]
    return str(conf["thread_id"]), conf.get("checkpoint_ns", ""), conf.get("checkpoint_id")


def put(
    st: Statements,
    serde: SerializerProtocol,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    new_versions: dict[str, Any],
) -> Callable[[], Plan]:
    """Store a checkpoint and the blobs of the channels whose version is new.

    Rows are serialized now, in the caller's thread; the returned factory builds the plan that
    writes them, as often as the fast path needs (see `Database.run_fast`).
    """
    thread_id, ns, parent_id = _target(config)
    md = get_serializable_checkpoint_metadata(config, metadata)
    row, blobs = rows_.checkpoint_row(serde, thread_id, ns, parent_id, checkpoint, md, new_versions)
    stored = {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint["id"],
        }
    }

    def plan() -> Plan:
        if blobs:
            yield Step(st.insert_blobs, blobs)
        yield Step(st.upsert_checkpoint, row)
        return stored

    return plan


def put_writes(
    st: Statements,
    serde: SerializerProtocol,
    config: RunnableConfig,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> Callable[[], Plan]:
    """Store one task's writes; special channels (errors, interrupts) overwrite, others don't."""
    thread_id, ns, checkpoint_id = _target(config)
    rows = rows_.write_rows(serde, thread_id, ns, str(checkpoint_id), task_id, task_path, writes)
    special = all(channel in WRITES_IDX_MAP for channel, _ in writes)

    def plan() -> Plan:
        if rows:
            yield Step(st.upsert_writes if special else st.insert_writes, rows)
        return None

    return plan


def _tuple(
    row: Sequence[Any],
    checkpoint: Checkpoint,
    blob_values: dict[str, Any],
    writes: list[Any],
) -> CheckpointTuple:
    """Assemble a tuple from a row and its already-loaded checkpoint (loaded once per read)."""
    thread_id, ns, checkpoint_id, parent_id, _type, _data, metadata = row
    checkpoint["channel_values"] = {**checkpoint["channel_values"], **blob_values}
    config: RunnableConfig = {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }
    parent: RunnableConfig | None = None
    if parent_id:
        parent = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": parent_id,
            }
        }
    return CheckpointTuple(config, checkpoint, metadata, parent, writes)


def get_tuple(st: Statements, serde: SerializerProtocol, config: RunnableConfig) -> Plan:
    """The checkpoint named by `config` (or the thread's latest), its values and pending writes."""
    thread_id, ns, checkpoint_id = _target(config)
    params = {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}
    stmt = st.select_checkpoint if checkpoint_id else st.select_latest
    found = yield Step(stmt, params, fetch=True)
    if not found:
        return None
    row = found[0]
    checkpoint = rows_.load(serde, row[4], row[5])
    blob_values: dict[str, Any] = {}
    refs = rows_.blob_refs(checkpoint)
    for chunk in _chunks(refs):
        for channel, type_, blob in (
            yield Step(st.select_blobs(thread_id, ns, list(chunk)), fetch=True)
        ) or []:
            blob_values[channel] = rows_.load(serde, type_, blob)
    params["checkpoint_id"] = row[2]
    writes = yield Step(st.select_writes, params, fetch=True)
    return _tuple(row, checkpoint, blob_values, rows_.pending_writes(serde, writes or []))


def _list_query(
    st: Statements,
    config: RunnableConfig | None,
    filter: dict[str, Any] | None,
    before: RunnableConfig | None,
) -> Any:
    query = select(*CHECKPOINT_COLUMNS)
    if config:
        conf = config["configurable"]
        query = query.where(C.c.thread_id == str(conf["thread_id"]))
        if conf.get("checkpoint_ns") is not None:
            query = query.where(C.c.checkpoint_ns == conf["checkpoint_ns"])
        if conf.get("checkpoint_id"):
            query = query.where(C.c.checkpoint_id == conf["checkpoint_id"])
    for key, value in (filter or {}).items():
        predicate = st.metadata_filter(key, value)
        if predicate is not None:
            query = query.where(predicate)
    if before is not None and (before_id := before["configurable"].get("checkpoint_id")):
        query = query.where(C.c.checkpoint_id < before_id)
    return query


def list_page(
    st: Statements,
    serde: SerializerProtocol,
    config: RunnableConfig | None,
    filter: dict[str, Any] | None,
    before: RunnableConfig | None,
    cursor: tuple[str, str, str] | None,
    page: int = LIST_PAGE,
) -> Plan:
    """One page of `list`: matching tuples newest first, and the cursor for the next page.

    Pages are keyed on (checkpoint_id, thread_id, checkpoint_ns) so a listing across every
    thread streams instead of loading the whole table.
    """
    order = (C.c.checkpoint_id.desc(), C.c.thread_id.desc(), C.c.checkpoint_ns.desc())
    query = _list_query(st, config, filter, before).order_by(*order).limit(page)
    if cursor is not None:
        query = query.where(tuple_(C.c.checkpoint_id, C.c.thread_id, C.c.checkpoint_ns) < cursor)
    found = (yield Step(query, fetch=True)) or []
    next_cursor = (found[-1][2], found[-1][0], found[-1][1]) if len(found) == page else None
    wanted = [
        r for r in found if all(r[6].get(k, _MISSING) == v for k, v in (filter or {}).items())
    ]
    loaded = [(r, rows_.load(serde, r[4], r[5])) for r in wanted]
    keys = [(r[0], r[1], ch, ver) for r, cp in loaded for ch, ver in rows_.blob_refs(cp)]
    blobs: dict[tuple[str, str, str, str], Any] = {}
    for chunk in _chunks(keys):
        for t, ns, ch, ver, type_, blob in (
            yield Step(st.select_blobs_many(list(chunk)), fetch=True)
        ) or []:
            blobs[(t, ns, ch, ver)] = (type_, blob)
    writes: dict[tuple[str, str, str], list[Any]] = {}
    for chunk in _chunks([(r[0], r[1], r[2]) for r in wanted]):
        for w in (yield Step(st.select_writes_many(list(chunk)), fetch=True)) or []:
            writes.setdefault((w[0], w[1], w[2]), []).append(w[3:])
    result = []
    for r, cp in loaded:
        values = {
            ch: rows_.load(serde, *blobs[(r[0], r[1], ch, ver)])
            for ch, ver in rows_.blob_refs(cp)
            if (r[0], r[1], ch, ver) in blobs
        }
        pending = rows_.pending_writes(serde, writes.get((r[0], r[1], r[2]), []))
        result.append(_tuple(r, cp, values, pending))
    return result, next_cursor


_MISSING = object()


def delete_threads(thread_ids: Sequence[str]) -> Plan:
    """Remove every checkpoint, blob and write of the threads."""
    ids = [str(t) for t in thread_ids]
    if ids:
        for table in CHECKPOINT_TABLES:
            yield Step(delete_rows(table, ids))
    return None


def copy_thread(source: str, target: str) -> Plan:
    """Copy a thread's whole history (every namespace, checkpoint, blob, write) to a new id."""
    exists = yield Step(
        select(func.count()).select_from(C).where(C.c.thread_id == target), fetch=True
    )
    if exists and exists[0][0]:
        raise ValueError(f"cannot copy thread {source!r} into {target!r}: target has checkpoints")
    for table in CHECKPOINT_TABLES:
        cols = [c for c in table.c if c.name != "thread_id"]
        sel = select(literal(target).label("thread_id"), *cols).where(table.c.thread_id == source)
        yield Step(table.insert().from_select(["thread_id", *[c.name for c in cols]], sel))
    return None


def _collect_garbage_blobs(serde: SerializerProtocol, pairs: set[tuple[str, str]]) -> Plan:
    """Delete blobs of the given (thread, ns) no remaining checkpoint refers to."""
    for thread_id, ns in sorted(pairs):
        cps = yield Step(
            select(C.c.type, C.c.checkpoint).where(
                C.c.thread_id == thread_id, C.c.checkpoint_ns == ns
            ),
            fetch=True,
        )
        referenced = {ref for t, d in cps or [] for ref in rows_.blob_refs(rows_.load(serde, t, d))}
        stored = yield Step(
            select(B.c.channel, B.c.version).where(
                B.c.thread_id == thread_id, B.c.checkpoint_ns == ns
            ),
            fetch=True,
        )
        garbage = [tuple(r) for r in stored or [] if tuple(r) not in referenced]
        for chunk in _chunks(garbage):
            yield Step(
                delete(B).where(
                    B.c.thread_id == thread_id,
                    B.c.checkpoint_ns == ns,
                    tuple_(B.c.channel, B.c.version).in_(list(chunk)),
                )
            )
    return None


def delete_for_runs(serde: SerializerProtocol, run_ids: Sequence[str]) -> Plan:
    """Remove the checkpoints (and their writes) that the given LangGraph runs created."""
    ids = [str(r) for r in run_ids]
    if not ids:
        return None
    doomed = yield Step(
        select(C.c.thread_id, C.c.checkpoint_ns, C.c.checkpoint_id).where(C.c.run_id.in_(ids)),
        fetch=True,
    )
    keys = [tuple(r) for r in doomed or []]
    for chunk in _chunks(keys):
        chunk_l = list(chunk)
        yield Step(
            delete(W).where(
                tuple_(W.c.thread_id, W.c.checkpoint_ns, W.c.checkpoint_id).in_(chunk_l)
            )
        )
        yield Step(
            delete(C).where(
                tuple_(C.c.thread_id, C.c.checkpoint_ns, C.c.checkpoint_id).in_(chunk_l)
            )
        )
    yield from _collect_garbage_blobs(serde, {(k[0], k[1]) for k in keys})
    return None


def compact(st: Statements, thread_ids: Sequence[str]) -> Callable[[], Plan]:
    """Delete the regular writes of every checkpoint that has a child made by the loop.

    The loop built that child by applying exactly those writes, so their effect lives on in
    the child's channel values; only resuming the newest checkpoint and LangGraph's display of
    earlier tasks' results ever read them. Error and interrupt writes (negative idx) and the
    writes behind `update_state` or fork checkpoints are kept.
    """
    params = [{"thread_id": str(t)} for t in thread_ids]

    def plan() -> Plan:
        if params:
            yield Step(st.compact_writes, params)
        return None

    return plan


def prune_keep_latest(serde: SerializerProtocol, thread_ids: Sequence[str]) -> Plan:
    """Keep each namespace's latest checkpoint (and its writes); drop the rest of the history."""
    ids = [str(t) for t in thread_ids]
    if not ids:
        return None
    heads = yield Step(
        select(C.c.thread_id, C.c.checkpoint_ns, func.max(C.c.checkpoint_id))
        .where(C.c.thread_id.in_(ids))
        .group_by(C.c.thread_id, C.c.checkpoint_ns),
        fetch=True,
    )
    for thread_id, ns, head in heads or []:
        md = yield Step(select(C.c.metadata).where(C.c.thread_id == thread_id), fetch=True)
        if any("counters_since_delta_snapshot" in (m[0] or {}) for m in md or []):
            raise NotImplementedError(
                f"keep_latest can't prune thread {thread_id!r}: it uses a DeltaChannel"
            )
        keep = (W.c.thread_id == thread_id) & (W.c.checkpoint_ns == ns)
        yield Step(delete(W).where(keep, W.c.checkpoint_id != head))
        yield Step(
            delete(C).where(
                C.c.thread_id == thread_id, C.c.checkpoint_ns == ns, C.c.checkpoint_id != head
            )
        )
        yield Step(
            C.update()
            .where(C.c.thread_id == thread_id, C.c.checkpoint_ns == ns)
            .values(parent_checkpoint_id=None)
        )
    yield from _collect_garbage_blobs(serde, {(h[0], h[1]) for h in heads or []})
    return None
