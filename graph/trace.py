"""One question's journey through the agents, as a JSON-able document (`reasonmed trace`).

Built from the thread's checkpoint history joined with the call log, never from a live graph, so
it works for a question that is finished, rejected, failed, half-done or still running in another
process. What a step produced is the difference between consecutive checkpoints' state: the
runner's `compact()` deletes finished steps' writes, so only the newest checkpoint's pending
writes (the work of a step still in progress) are read.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import CheckpointTuple

from reasonmed.core.state import merge_kept, merge_paths, merge_scores
from reasonmed.graph.trace_changes import describe_changes
from reasonmed.graph.trace_history import (
    Branch,
    History,
    build_history,
    cp_id,
    next_nodes,
    step_nodes,
)
from reasonmed.llm.context import thread_id_for
from reasonmed.storage.call_log import CallLog, StoredCall
from reasonmed.storage.db import Database
from reasonmed.storage.run_reads import first_question_ids, question_examples
from reasonmed.storage.runs import QuestionRow, RunStore
from reasonmed.storage.saver import SQLAlchemySaver

SCHEMA = "reasonmed.trace/1"
IN_FLIGHT = "in flight / not yet checkpointed"
HINTS = 5
_REDUCERS = {"paths": merge_paths, "scores": merge_scores, "kept": merge_kept}
_FIND_IDS = (
    "find ids with `reasonmed questions --run-id ID` (every question, its state and tier) or "
    "`reasonmed status --run-id ID --json`"
)


def build_trace(db: Database, run_id: str, question_id: str) -> dict[str, Any]:
    """Every step of one question's thread, oldest first, with the model calls it made."""
    row = require_question(db, run_id, question_id)
    thread_id = thread_id_for(run_id, question_id)
    tuples = [
        t
        for t in SQLAlchemySaver(db).list({"configurable": {"thread_id": thread_id}})
        if t.config["configurable"].get("checkpoint_ns", "") == ""
    ]
    calls = _calls(db, run_id, question_id)
    history = build_history(tuples, calls)
    chain = history.main.chain
    steps = _steps(chain, None, history)
    head_values = chain[-1].checkpoint["channel_values"] if chain else {}
    pending = _pending_values(chain[-1], head_values) if chain else None
    if history.in_flight or pending is not None:
        steps.append(_in_flight_step(chain[-1] if chain else None, history.in_flight, pending))
    branches = [_branch(b, history) for b in history.others]
    return _plain(
        {
            "schema": SCHEMA,
            "run_id": run_id,
            "question_id": question_id,
            "thread_id": thread_id,
            "status": row.status,
            "tier": head_values.get("tier") or row.tier,
            "outcome": head_values.get("outcome"),
            "tier_reason": head_values.get("tier_reason"),
            "errors": row.errors,
            "reason": row.reason,
            "question": row.question.model_dump(),
            "next": next_nodes(head_values),
            "head_checkpoint_id": cp_id(chain[-1].config) if chain else None,
            "steps": steps,
            "branches": branches,
            "examples": question_examples(db, run_id, question_id),
            "rejection": row.reason if row.status == "rejected" else None,
        }
    )


# -- lookup ------------------------------------------------------------------------------------


def require_question(db: Database, run_id: str, question_id: str) -> QuestionRow:
    """The question's row, or a LookupError that says how to find the right ids."""
    store = RunStore(db)
    if store.get_run(run_id) is None:
        known = [r["run_id"] for r in store.list_runs()][:HINTS]
        hint = f"; runs here: {', '.join(known)}" if known else ""
        raise LookupError(f"no run {run_id!r} in this database{hint}; {_FIND_IDS}")
    row = store.question(run_id, question_id)
    if row is None:
        known = first_question_ids(db, run_id, HINTS)
        hint = f"; e.g. {', '.join(known)}" if known else ""
        raise LookupError(f"run {run_id!r} has no question {question_id!r}{hint}; {_FIND_IDS}")
    return row


# -- history -----------------------------------------------------------------------------------


def _calls(db: Database, run_id: str, question_id: str) -> list[StoredCall]:
    """The question's calls, and those of the run it was copied from (`replay --into`)."""
    calls = CallLog(db).for_question(run_id, question_id)
    run = RunStore(db).get_run(run_id)
    sources = {
        e["from_run"]
        for e in (run.history if run else [])
        if e.get("event") == "replay" and e.get("from_run") not in (None, run_id)
    }
    for source in sorted(sources):
        calls += CallLog(db).for_question(source, question_id)
    return sorted(calls, key=lambda c: (c.created_at, c.id))


def _steps(
    chain: list[CheckpointTuple], before: CheckpointTuple | None, history: History
) -> list[dict[str, Any]]:
    """Trace steps of consecutive checkpoints; `before` is the first one's parent, if known."""
    steps = []
    for cp in chain:
        steps.append(_step(cp, before, history.calls.get(str(cp_id(cp.config)), [])))
        before = cp
    return steps


def _branch(branch: Branch, history: History) -> dict[str, Any]:
    """Another branch: where it left the main one, its own steps, and how it ended."""
    head = branch.chain[-1]
    values = head.checkpoint["channel_values"]
    return {
        "head_checkpoint_id": cp_id(head.config),
        "fork_checkpoint_id": cp_id(branch.fork.config) if branch.fork else None,
        "fork_step": branch.fork.metadata.get("step") if branch.fork else None,
        "step": head.metadata.get("step"),
        "ts": head.checkpoint["ts"],
        "next": next_nodes(values),
        "tier": values.get("tier"),
        "tier_reason": values.get("tier_reason"),
        "outcome": values.get("outcome"),
        "kept": [_kept_summary(k) for k in values.get("kept") or []],
        "steps": _steps(branch.chain, branch.fork, history),
    }


def _kept_summary(kept: dict[str, Any]) -> dict[str, Any]:
    return {k: kept.get(k) for k in ("slot", "origin", "status", "note", "cot", "summary")}


def _step(cp: CheckpointTuple, prev: CheckpointTuple | None, calls: list[StoredCall]) -> dict:
    before = prev.checkpoint["channel_values"] if prev else {}
    return {
        "step": cp.metadata.get("step"),
        "checkpoint_id": cp_id(cp.config),
        "parent_checkpoint_id": cp_id(cp.parent_config),
        "source": cp.metadata.get("source"),
        "ts": cp.checkpoint["ts"],
        "nodes": step_nodes(cp, prev, calls),
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
    nodes = next_nodes(before) + [c.node for c in calls]
    step = head.metadata.get("step") if head else None
    return {
        "step": step + 1 if isinstance(step, int) else None,
        "checkpoint_id": None,
        "parent_checkpoint_id": cp_id(head.config) if head else None,
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
