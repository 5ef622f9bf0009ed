"""The library API: run (and resume) the pipeline over a question file.

One LangGraph thread per question (`run_id:question_id`), checkpointed by `SQLAlchemySaver`.
Running the same run id again continues it: finished questions are skipped, unfinished ones
resume from their last checkpoint (completed model calls are not made again). Questions start
the moment a slot frees; there is no batch barrier.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from reasonmed.agents.calls import ModelCallError
from reasonmed.agents.models import ModelRegistry, redact
from reasonmed.graph.builder import build_graph
from reasonmed.graph.config import RunConfig, config_from_dict, diff_configs, load_config
from reasonmed.graph.context import PipelineContext, thread_id_for
from reasonmed.prompts import template_hashes
from reasonmed.storage.calls import CallLog
from reasonmed.storage.db import Database
from reasonmed.storage.examples import examples_from_state
from reasonmed.storage.question_model import Question
from reasonmed.storage.questions import iter_questions, validate_question_file
from reasonmed.storage.runs import QuestionRow, RunStore
from reasonmed.storage.saver import SQLAlchemySaver

log = logging.getLogger("reasonmed.run")

DEFAULT_DB = "sqlite:///reasonmed.db"


class ConfigChangedError(RuntimeError):
    """The config differs from the one the run was started with."""

    def __init__(self, run_id: str, differences: list[str]) -> None:
        self.differences = differences
        listing = "\n".join(f"  {d}" for d in differences)
        super().__init__(
            f"run {run_id!r} was started with a different config:\n{listing}\n"
            "re-run with --accept-config-change to continue unfinished questions with the new "
            "config (finished questions stay as they are)"
        )


@dataclass
class RunRequest:
    """What `reasonmed run` was asked to do."""

    questions: Path
    config_path: Path | None
    db_url: str = DEFAULT_DB
    run_id: str | None = None
    concurrency: int | None = None
    overrides: list[str] = field(default_factory=list)
    accept_config_change: bool = False
    use_cache: bool = True

    @property
    def resolved_run_id(self) -> str:
        """`--run-id`, else the question file's stem."""
        return self.run_id or self.questions.stem


@dataclass
class RunResult:
    """What a run ended with."""

    run_id: str
    counts: dict[str, int]
    failed: list[tuple[str, str]]
    db_url: str

    @property
    def complete(self) -> bool:
        """Every question reached a final state (done or rejected)."""
        unfinished = sum(n for state, n in self.counts.items() if state not in ("done", "rejected"))
        return not self.failed and unfinished == 0


class ProgressHook(Protocol):
    """Told the question count once the file is validated, then each question's outcome."""

    def begin(self, total: int) -> None: ...

    def __call__(self, row: QuestionRow, result: dict[str, Any]) -> None: ...


def _resolve_config(request: RunRequest, store: RunStore, run_id: str) -> RunConfig:
    stored = store.get_run(run_id)
    if request.config_path is None:
        if stored is None:
            raise FileNotFoundError(f"run {run_id!r} does not exist yet: pass --config FILE")
        return config_from_dict(stored.config, source=f"run {run_id}", overrides=request.overrides)
    config = load_config(request.config_path, request.overrides)
    if stored is None:
        store.create_run(
            run_id,
            str(request.questions),
            config.resolved_dict(),
            config.config_hash(),
            template_hashes(),
        )
    elif stored.config_hash != config.config_hash():
        changes = diff_configs(stored.config, config.resolved_dict())
        if not request.accept_config_change:
            raise ConfigChangedError(run_id, changes)
        store.update_run_config(
            run_id,
            config.resolved_dict(),
            config.config_hash(),
            template_hashes(),
            {"event": "config-change", "changes": changes},
        )
    return config


async def run_pipeline(
    request: RunRequest,
    progress: ProgressHook | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """Validate everything, then run every unfinished question of the run.

    Setting `stop` ends the run early: no new question starts, the ones in flight finish.
    Cancelling the task abandons those too; everything already checkpointed stays.
    """
    total = validate_question_file(request.questions)  # every bad line listed, before any call
    if progress is not None:
        progress.begin(total)
    run_id = request.resolved_run_id
    db = Database.from_url(request.db_url)
    try:
        store = RunStore(db)
        config = _resolve_config(request, store, run_id)
        models = ModelRegistry(config)  # a missing API key fails here, before any call
        store.register_questions(run_id, iter_questions(request.questions))
        saver = SQLAlchemySaver(db)
        ctx = PipelineContext(
            run_id=run_id,
            config=config,
            models=models,
            calls=CallLog(db),
            use_cache=request.use_cache,
        )
        graph = build_graph(saver)
        concurrency = request.concurrency or config.pipeline.concurrency
        failed = await _run_all(graph, ctx, store, saver, concurrency, progress, stop)
        await models.aclose()
        return RunResult(run_id, store.counts(run_id)["by_status"], failed, request.db_url)
    finally:
        await db.aclose()


async def _run_all(
    graph: Any,
    ctx: PipelineContext,
    store: RunStore,
    saver: SQLAlchemySaver,
    concurrency: int,
    progress: ProgressHook | None,
    stop: asyncio.Event | None = None,
) -> list[tuple[str, str]]:
    """`concurrency` workers pull questions as they free up; the input is streamed."""
    failed: list[tuple[str, str]] = []
    queue: asyncio.Queue[QuestionRow | None] = asyncio.Queue(maxsize=concurrency)
    workers = [
        asyncio.create_task(_worker(queue, graph, ctx, store, saver, failed, progress, stop))
        for _ in range(concurrency)
    ]
    try:
        for row in store.unfinished(ctx.run_id):
            if stop is not None and stop.is_set():
                break
            await queue.put(row)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        for worker in workers:
            worker.cancel()
    return failed


async def _worker(
    queue: asyncio.Queue[QuestionRow | None],
    graph: Any,
    ctx: PipelineContext,
    store: RunStore,
    saver: SQLAlchemySaver,
    failed: list[tuple[str, str]],
    progress: ProgressHook | None,
    stop: asyncio.Event | None,
) -> None:
    while (row := await queue.get()) is not None:
        if stop is not None and stop.is_set():
            continue  # stopping: questions still queued are not started
        try:
            result = await run_question(graph, ctx, store, saver, row)
        except Exception as exc:  # recorded on the question, the run goes on
            reason = _failure_reason(exc, ctx)
            await store.amark_failed(ctx.run_id, row.question_id, reason)
            failed.append((row.question_id, reason))
            result = {"status": "failed", "reason": reason}
            log.warning("question %s failed: %s", row.question_id, reason)
        if progress is not None:
            progress(row, result)


def _failure_reason(exc: Exception, ctx: PipelineContext) -> str:
    if isinstance(exc, ModelCallError):
        return redact(str(exc), ctx.models.secrets())
    return redact(f"{type(exc).__name__}: {exc}", ctx.models.secrets())


async def run_question(
    graph: Any, ctx: PipelineContext, store: RunStore, saver: SQLAlchemySaver, row: QuestionRow
) -> dict[str, Any]:
    """Run (or resume) one question's thread to its end and record its examples."""
    question = Question.model_validate(row.question)
    thread_id = thread_id_for(ctx.run_id, question.id)
    config = {
        "configurable": {"thread_id": thread_id},
        "metadata": {"reasonmed_run_id": ctx.run_id, "question_id": question.id},
        "recursion_limit": 100,
    }
    await store.amark_running(ctx.run_id, question.id)
    snapshot = await graph.aget_state(config)
    # Only the input checkpoint (step -1) saved: nothing ran yet, and resuming from it with no
    # input does nothing, so the question starts again with its input.
    started = bool(snapshot.values) and (snapshot.metadata or {}).get("step", -1) >= 0
    if not started:
        state = await graph.ainvoke({"question": question.model_dump()}, config, context=ctx)
    elif snapshot.values.get("outcome"):
        state = snapshot.values  # the graph finished; only the bookkeeping was missing
    else:
        # Resume where it stopped. `snapshot.next` can be empty here even though work is left:
        # it omits tasks whose writes were saved before a crash, which resuming applies.
        state = await graph.ainvoke(None, config, context=ctx)
    outcome = state.get("outcome")
    if not outcome:  # never guess: a failed question is retried by the next run
        raise RuntimeError(f"the graph stopped without an outcome (next: {snapshot.next})")
    examples = (
        examples_from_state(ctx.run_id, question, state) if outcome["status"] == "done" else []
    )
    await store.afinish_question(
        ctx.run_id,
        question.id,
        status=outcome["status"],
        tier=state.get("tier"),
        errors=state.get("errors"),
        reason=outcome.get("reason", ""),
        examples=examples,
    )
    await saver.acompact([thread_id])
    return {
        "status": outcome["status"],
        "tier": state.get("tier"),
        "examples": len(examples),
        "reason": outcome.get("reason", ""),
    }
