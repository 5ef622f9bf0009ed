"""Re-run one question from the checkpoint before a node, as a fork (`reasonmed replay`).

LangGraph time travel: invoking a thread at an old `checkpoint_id` re-runs the steps after it
and writes them as a new branch, leaving the old checkpoints as they are. With `into`, the
thread is first copied (`copy_thread`) into a new run that stores the changed config, so the
original run is not touched at all; without it, the fork is a new branch of the same thread and
the question's recorded examples change only when `adopt` asks for it. The replay is recorded
in the run's history, and `trace` shows both branches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple

from reasonmed.core.config import config_from_dict
from reasonmed.core.question import Question
from reasonmed.graph.run_session import ConfigSource, Session, open_session
from reasonmed.graph.trace import require_question
from reasonmed.graph.trace_history import build_history, cp_id, next_nodes
from reasonmed.llm.call_tracing import question_run_config
from reasonmed.llm.context import thread_id_for
from reasonmed.prompts import template_hashes
from reasonmed.storage.db import Database
from reasonmed.storage.runs import RunStore
from reasonmed.storage.saver import SQLAlchemySaver


@dataclass
class ReplayRequest:
    """What `reasonmed replay` was asked to do."""

    db_url: str
    run_id: str
    question_id: str
    from_node: str
    occurrence: int = 1  # the K-th time NODE ran on the question's current branch
    overrides: list[str] = field(default_factory=list)
    into: str | None = None
    adopt: bool = False
    use_cache: bool = True


@dataclass
class ReplayResult:
    """Where the fork went and how it ended."""

    run_id: str
    question_id: str
    fork_checkpoint_id: str
    head_checkpoint_id: str | None
    outcome: dict[str, Any] | None
    tier: str | None
    recorded: bool  # the question's examples in `run_id` are now the fork's


def find_fork_point(
    tuples: list[CheckpointTuple], node: str, occurrence: int = 1
) -> CheckpointTuple:
    """The checkpoint on the current branch from which `node` ran for the `occurrence`-th time."""
    chain = build_history(tuples, []).main.chain
    found = [cp for cp in chain if node in next_nodes(cp.checkpoint["channel_values"])]
    if len(found) >= occurrence >= 1:
        return found[occurrence - 1]
    ran = sorted({n for cp in chain for n in next_nodes(cp.checkpoint["channel_values"])})
    times = f"{len(found)} time(s)" if found else "never"
    raise LookupError(
        f"node {node!r} ran {times} on this question's current branch, so there is no "
        f"occurrence {occurrence}; nodes that ran: {', '.join(ran) or 'none'}"
    )


async def replay(request: ReplayRequest) -> ReplayResult:
    """Fork the question's thread before `from_node` and run the fork to its end."""
    db = Database.from_url(request.db_url)
    try:
        row = require_question(db, request.run_id, request.question_id)
        source_thread = thread_id_for(request.run_id, request.question_id)
        tuples = [
            t
            for t in SQLAlchemySaver(db).list({"configurable": {"thread_id": source_thread}})
            if t.config["configurable"].get("checkpoint_ns", "") == ""
        ]
        fork = find_fork_point(tuples, request.from_node, request.occurrence)
        target = request.into or request.run_id
        event = {
            "event": "replay",
            "from_run": request.run_id,
            "question": request.question_id,
            "from_node": request.from_node,
            "checkpoint": cp_id(fork.config),
            "overrides": list(request.overrides),
        }
        if request.into:
            _prepare_into(db, request, row.question, event)
        else:
            RunStore(db).record_event(request.run_id, {**event, "adopted": request.adopt})
    finally:
        await db.aclose()
    overrides = () if request.into else tuple(request.overrides)
    async with open_session(
        request.db_url,
        ConfigSource(run_id=target, overrides=overrides),
        use_cache=request.use_cache,
    ) as session:
        return await _run_fork(session, row.question, str(cp_id(fork.config)), request)


def _prepare_into(
    db: Database, request: ReplayRequest, question: Question, event: dict[str, Any]
) -> None:
    """Create the new run with the changed config, and copy the question's thread into it."""
    store = RunStore(db)
    source = store.get_run(request.run_id)
    assert source is not None  # require_question checked it
    config = config_from_dict(
        source.config, source=f"run {request.run_id}", overrides=request.overrides
    )
    existing = store.get_run(request.into or "")
    if existing is None:
        store.create_run(
            request.into or "",
            source.input_path,
            config.resolved_dict(),
            config.config_hash(),
            template_hashes(),
        )
    elif existing.config_hash != config.config_hash():
        raise ValueError(
            f"run {request.into!r} already exists with a different config; replay into a new run id"
        )
    target_thread = thread_id_for(request.into or "", request.question_id)
    try:
        SQLAlchemySaver(db).copy_thread(
            thread_id_for(request.run_id, request.question_id), target_thread
        )
    except ValueError:
        raise ValueError(
            f"run {request.into!r} already holds question {request.question_id!r}; "
            "replay into a new run id, or replay in place there (--run-id "
            f"{request.into} without --into)"
        ) from None
    store.record_event(request.into or "", event)
    store.register_questions(request.into or "", [question])


async def _run_fork(
    session: Session, question: Question, checkpoint_id: str, request: ReplayRequest
) -> ReplayResult:
    config = session.thread_config(question.id, checkpoint_id=checkpoint_id)
    if session.ctx.tracing:  # LangSmith: the fork is a "question <id>" run too
        config = question_run_config(config, question.id, None)
    state = await session.graph.ainvoke(None, config, context=session.ctx)
    head = await session.saver.aget_tuple(session.thread_config(question.id))
    record = bool(request.into) or request.adopt
    if record and state.get("outcome"):
        await session.record_outcome(question, state)
    else:
        await session.saver.acompact([thread_id_for(session.run_id, question.id)])
    return ReplayResult(
        run_id=session.run_id,
        question_id=question.id,
        fork_checkpoint_id=checkpoint_id,
        head_checkpoint_id=cp_id(head.config) if head else None,
        outcome=state.get("outcome"),
        tier=state.get("tier"),
        recorded=record and bool(state.get("outcome")),
    )
