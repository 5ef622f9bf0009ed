"""One question's journey through the agents, as a JSON-able document (`reasonmed trace`).

Built from the thread's checkpoint history joined with the call log, never from a live graph, so
it works for a question that is finished, rejected, failed, half-done or still running in another
process. What a step produced is the difference between consecutive checkpoints' state: the
runner's `compact()` deletes finished steps' writes, so only the newest checkpoint's pending
writes (the work of a step still in progress) are read.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple
from sqlalchemy import select

from reasonmed.graph.context import thread_id_for
from reasonmed.graph.state import merge_kept, merge_paths, merge_scores
from reasonmed.graph.trace_changes import describe_changes
from reasonmed.storage.calls import CallLog, StoredCall
from reasonmed.storage.db import Database, Plan, Step
from reasonmed.storage.runs import QuestionRow, RunStore
from reasonmed.storage.saver import SQLAlchemySaver
from reasonmed.storage.schema import examples as E
from reasonmed.storage.schema import questions as Q

SCHEMA = "reasonmed.trace/1"
IN_FLIGHT = "in flight / not yet checkpointed"
HINTS = 5
_REDUCERS = {"paths": merge_paths, "scores": merge_scores, "kept": merge_kept}
_FIND_IDS = (
    "find ids with `reasonmed status --run-id ID --json` (questions by state) or "
    "`reasonmed export --run-id ID --variant reasonmed --out FILE` (the `id` of each line)"
)


def build_trace(db: Database, run_id: str, question_id: str) -> dict[str, Any]:
    """Every step of one question's thread, oldest first, with the model calls it made."""
    row = _require_question(db, run_id, question_id)
    thread_id = thread_id_for(run_id, question_id)
    tuples = [
        t
        for t in SQLAlchemySaver(db).list({"configurable": {"thread_id": thread_id}})
        if t.config["configurable"].get("checkpoint_ns", "") == ""
    ]
    chain, branches = _main_chain(tuples)
    calls = CallLog(db).for_question(run_id, question_id)
    by_step, in_flight = _assign_calls(chain, calls)
    steps = [_step(cp, chain[i - 1] if i else None, by_step[i]) for i, cp in enumerate(chain)]
    head_values = chain[-1].checkpoint["channel_values"] if chain else {}
    pending = _pending_values(chain[-1], head_values) if chain else None
    if in_flight or pending is not None:
        steps.append(_in_flight_step(chain[-1] if chain else None, in_flight, pending))
    return _plain(
        {
            "schema": SCHEMA,
            "run_id": run_id,
            "question_id": question_id,
            "thread_id": thread_id,
            "status": row.status,
            "tier": row.tier or head_values.get("tier"),
            "tier_reason": head_values.get("tier_reason"),
            "errors": row.errors,
            "reason": row.reason,
            "question": row.question.model_dump(),
            "next": _next_nodes(head_values),
            "steps": steps,
            "branches": branches,
            "examples": _examples(db, run_id, question_id),
            "rejection": row.reason if row.status == "rejected" else None,
        }
    )


# -- lookup ------------------------------------------------------------------------------------


def _require_question(db: Database, run_id: str, question_id: str) -> QuestionRow:
    store = RunStore(db)
    if store.get_run(run_id) is None:
        known = [r["run_id"] for r in store.list_runs()][:HINTS]
        hint = f"; runs here: {', '.join(known)}" if known else ""
        raise LookupError(f"no run {run_id!r} in this database{hint}; {_FIND_IDS}")
    row = store.question(run_id, question_id)
    if row is None:
        stmt = (
            select(Q.c.question_id).where(Q.c.run_id == run_id).order_by(Q.c.position).limit(HINTS)
        )
        known = [r[0] for r in db.run(_rows(stmt), write=False)]
        hint = f"; e.g. {', '.join(known)}" if known else ""
        raise LookupError(f"run {run_id!r} has no question {question_id!r}{hint}; {_FIND_IDS}")
    return row


def _rows(stmt: Any) -> Plan:
    rows = yield Step(stmt, fetch=True)
    return rows or []


def _examples(db: Database, run_id: str, question_id: str) -> list[dict[str, Any]]:
    stmt = (
        select(E.c.slot, E.c.tier, E.c.origin, E.c.cot, E.c.summary, E.c.provenance)
        .where(E.c.run_id == run_id, E.c.question_id == question_id)
        .order_by(E.c.slot)
    )
    return [dict(r._mapping) for r in db.run(_rows(stmt), write=False)]


# -- history -----------------------------------------------------------------------------------


def _cp_id(config: dict[str, Any] | None) -> str | None:
    return config["configurable"]["checkpoint_id"] if config else None


def _main_chain(tuples: list[CheckpointTuple]) -> tuple[list[CheckpointTuple], list[dict]]:
    """The newest checkpoint's ancestry, oldest first; other branch heads listed apart."""
    if not tuples:
        return [], []
    by_id = {_cp_id(t.config): t for t in tuples}
    chain: list[CheckpointTuple] = []
    node: CheckpointTuple | None = tuples[0]  # `list` is newest first
    while node is not None and node not in chain:
        chain.append(node)
        node = by_id.get(_cp_id(node.parent_config))
    chain.reverse()
    parents = {_cp_id(t.parent_config) for t in tuples}
    on_chain = {_cp_id(t.config) for t in chain}
    branches = [
        {
            "checkpoint_id": _cp_id(t.config),
            "parent_checkpoint_id": _cp_id(t.parent_config),
            "step": t.metadata.get("step"),
            "ts": t.checkpoint["ts"],
        }
        for t in tuples
        if _cp_id(t.config) not in parents and _cp_id(t.config) not in on_chain
    ]
    return chain, branches


def _when(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _assign_calls(
    chain: list[CheckpointTuple], calls: list[StoredCall]
) -> tuple[list[list[StoredCall]], list[StoredCall]]:
    """Each call goes to the first checkpoint written after it; later ones are in flight."""
    stamps = [_when(cp.checkpoint["ts"]) for cp in chain]
    by_step: list[list[StoredCall]] = [[] for _ in chain]
    in_flight: list[StoredCall] = []
    for call in calls:
        i = bisect.bisect_left(stamps, _when(call.created_at))
        (by_step[i] if i < len(chain) else in_flight).append(call)
    return by_step, in_flight


def _next_nodes(values: dict[str, Any]) -> list[str]:
    """Nodes a checkpoint triggers: its `branch:to:*` channels and its `Send`s."""
    nodes: list[str] = []
    for key, value in values.items():
        if key == "__start__":
            nodes.append("__start__")
        elif key.startswith("branch:to:"):
            nodes.append(key.removeprefix("branch:to:"))
        elif key == "__pregel_tasks":
            nodes.extend(getattr(send, "node", str(send)) for send in value or [])
    return list(dict.fromkeys(nodes))


def _nodes(cp: CheckpointTuple, prev: CheckpointTuple | None, calls: list[StoredCall]) -> list[str]:
    """Metadata `writes` when recorded, else what the parent triggered, plus the calls' nodes."""
    writes = cp.metadata.get("writes")
    if writes:
        nodes = list(writes)
    elif prev is not None:
        nodes = _next_nodes(prev.checkpoint["channel_values"])
    else:
        nodes = ["input"] if cp.metadata.get("source") == "input" else []
    return list(dict.fromkeys([*nodes, *(c.node for c in calls)]))


def _step(cp: CheckpointTuple, prev: CheckpointTuple | None, calls: list[StoredCall]) -> dict:
    before = prev.checkpoint["channel_values"] if prev else {}
    return {
        "step": cp.metadata.get("step"),
        "checkpoint_id": _cp_id(cp.config),
        "parent_checkpoint_id": _cp_id(cp.parent_config),
        "source": cp.metadata.get("source"),
        "ts": cp.checkpoint["ts"],
        "nodes": _nodes(cp, prev, calls),
        "calls": [call_summary(c) for c in calls],
        "changes": describe_changes(before, cp.checkpoint["channel_values"]),
    }


def _pending_values(head: CheckpointTuple, values: dict[str, Any]) -> dict[str, Any] | None:
    """The head's state with its pending writes applied, or None when there are none."""
    writes = [
        (channel, value)
        for _, channel, value in head.pending_writes or []
        if not channel.startswith(("__", "branch:"))
    ]
    if not writes:
        return None
    after = dict(values)
    for channel, value in writes:
        reducer = _REDUCERS.get(channel)
        after[channel] = reducer(after.get(channel) or [], value) if reducer else value
    return after


def _in_flight_step(
    head: CheckpointTuple | None, calls: list[StoredCall], pending: dict[str, Any] | None
) -> dict[str, Any]:
    before = head.checkpoint["channel_values"] if head else {}
    nodes = _next_nodes(before) + [c.node for c in calls]
    step = head.metadata.get("step") if head else None
    return {
        "step": step + 1 if isinstance(step, int) else None,
        "checkpoint_id": None,
        "parent_checkpoint_id": _cp_id(head.config) if head else None,
        "source": IN_FLIGHT,
        "ts": None,
        "nodes": list(dict.fromkeys(nodes)),
        "calls": [call_summary(c) for c in calls],
        "changes": describe_changes(before, pending if pending is not None else before),
    }


def call_summary(call: StoredCall) -> dict[str, Any]:
    """A logged call as the trace shows it: who asked whom, what was sent and what came back."""
    return {
        "id": call.id,
        "created_at": call.created_at,
        "node": call.node,
        "agent": call.agent,
        "alias": call.alias,
        "model": call.model,
        "temperature": (call.sampling or {}).get("temperature"),
        "attempt": call.attempt,
        "latency_ms": call.latency_ms,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "retries": call.retries,
        "error": call.error,
        "cache_hit": call.cache_hit,
        "prompt": call.messages,
        "reply": call.reply,
        "parsed": call.parsed,
    }


def _plain(value: Any) -> Any:
    """`value` with anything json cannot encode turned into text, so the trace always dumps."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
