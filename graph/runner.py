"""The library API: run (and resume) the pipeline over a question file.

One LangGraph thread per question (`run_id:question_id`), checkpointed by `SQLAlchemySaver`.
Running the same run id again continues it: finished questions are skipped, unfinished ones
resume from their last checkpoint (completed model calls are not made again). Questions start
the moment a slot frees; there is no batch barrier.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from reasonmed.core.question import Question
from reasonmed.graph.budget import Budget
from reasonmed.graph.failures import describe_failure
from reasonmed.graph.run_session import ConfigChangedError, ConfigSource, Session, open_session
from reasonmed.llm.call_tracing import question_run_config
from reasonmed.sources.source_reader import open_source
from reasonmed.storage.call_log import CallLog
from reasonmed.storage.claims import Claims, open_claims
from reasonmed.storage.runs import QuestionRow

__all__ = ["DEFAULT_DB", "ConfigChangedError", "RunRequest", "RunResult", "advance", "run_pipeline"]

log = logging.getLogger("reasonmed.run")

DEFAULT_DB = "sqlite:///reasonmed.db"


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
    cap_share: int = 1  # one of N `run --workers` processes: 1/N of each alias's cap
    budget: float | None = None  # USD; stop starting questions once the run has spent it
    question_format: str = "reasonmed"  # a layout of `sources.source_reader`, or "auto"
    cop_base: int | None = None  # MedMCQA files whose data do not show their cop base

    @property
    def resolved_run_id(self) -> str:
        """`--run-id`, else the question file's stem."""
        return self.run_id or self.questions.stem

    def config_source(self) -> ConfigSource:
        """Where the run's config comes from (`resolve_config` creates or checks the run)."""
        return ConfigSource(
            run_id=self.resolved_run_id,
            path=self.config_path,
            overrides=tuple(self.overrides),
            questions=str(self.questions),
            accept_change=self.accept_config_change,
        )


@dataclass
class RunResult:
    """What a run ended with."""

    run_id: str
    counts: dict[str, int]
    failed: list[tuple[str, str]]
    db_url: str
    budget: Budget | None = None

    @property
    def budget_reached(self) -> bool:
        """The run stopped starting questions because it had spent its budget."""
        return self.budget is not None and self.budget.reached

    @property
    def complete(self) -> bool:
        """Every question reached a final state (done or rejected)."""
        unfinished = sum(n for state, n in self.counts.items() if state not in ("done", "rejected"))
        return not self.failed and unfinished == 0


class ProgressHook(Protocol):
    """Told the question count once the file is validated, then each question's outcome."""

    def begin(self, total: int) -> None: ...

    def __call__(self, row: QuestionRow, result: dict[str, Any]) -> None: ...


async def run_pipeline(
    request: RunRequest,
    progress: ProgressHook | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """Validate everything, then run every unfinished question of the run.

    Setting `stop` ends the run early: no new question starts, the ones in flight finish.
    Cancelling the task abandons those too; everything already checkpointed stays.
    """
    source = open_source(request.questions, request.question_format, request.cop_base)
    total = source.validate()  # every bad line listed, before any call
    if progress is not None:
        progress.begin(total)
    async with open_session(
        request.db_url,
        request.config_source(),
        questions=source.questions(),
        use_cache=request.use_cache,
        cap_share=request.cap_share,
    ) as session:
        concurrency = request.concurrency or session.ctx.config.pipeline.concurrency
        budget = None
        if request.budget is not None:
            log = session.ctx.calls
            assert isinstance(log, CallLog)
            budget = Budget.open(
                request.budget,
                session.ctx.config,
                log,
                session.run_id,
                shared=request.cap_share > 1,
            )
        claims = open_claims(session.db, session.run_id)
        await session.store.aset_run_status(session.run_id, "running")
        try:
            failed = await _run_all(session, concurrency, progress, stop, budget, claims)
        except BaseException:  # cancelled (a second Ctrl-C) or crashed: say so, then go on failing
            with contextlib.suppress(Exception):
                await session.store.aset_run_status(session.run_id, "incomplete")
            raise
        finally:
            claims.close()
        counts = session.store.counts(session.run_id)["by_status"]
        result = RunResult(session.run_id, counts, failed, request.db_url, budget)
        await session.store.aset_run_status(session.run_id, run_state(result))
    return result


def run_state(result: RunResult) -> str:
    """The run's own status after this process's pass: "complete" once every question is final,
    else "incomplete" (failed questions, a stop, a spent budget, or others still in flight)."""
    return "complete" if result.complete else "incomplete"


async def _run_all(
    session: Session,
    concurrency: int,
    progress: ProgressHook | None,
    stop: asyncio.Event | None = None,
    budget: Budget | None = None,
    claims: Claims | None = None,
) -> list[tuple[str, str]]:
    """`concurrency` workers pull questions as they free up; the input is streamed."""
    failed: list[tuple[str, str]] = []
    queue: asyncio.Queue[QuestionRow | None] = asyncio.Queue(maxsize=concurrency)
    halt = stop if stop is not None else asyncio.Event()
    workers = [
        asyncio.create_task(_worker(queue, session, failed, progress, halt, budget, claims))
        for _ in range(concurrency)
    ]
    try:
        for row in session.store.unfinished(session.run_id):
            if halt.is_set() or (budget is not None and budget.check()):
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
    session: Session,
    failed: list[tuple[str, str]],
    progress: ProgressHook | None,
    halt: asyncio.Event,
    budget: Budget | None,
    claims: Claims | None,
) -> None:
    while (row := await queue.get()) is not None:
        if budget is not None and budget.check():
            halt.set()  # spent: questions in flight finish, no new one starts
        if halt.is_set():
            continue  # stopping: questions still queued are not started
        if claims is not None and not await _claim(session, claims, row):
            continue  # another process has it, or finished it meanwhile
        try:
            result = await run_question(session, row)
        except Exception as exc:  # recorded on the question, the run goes on
            reason, failure = describe_failure(exc, session.ctx.models.secrets())
            await session.store.amark_failed(session.run_id, row.question_id, reason, failure)
            failed.append((row.question_id, reason))
            result = {"status": "failed", "reason": reason, "failure": failure}
            log.warning("question %s failed: %s", row.question_id, reason)
        finally:
            if claims is not None:
                await claims.release(row.question_id)
        if progress is not None:
            progress(row, result)


async def _claim(session: Session, claims: Claims, row: QuestionRow) -> bool:
    """Claim the question, and make sure no other process finished it in the meantime."""
    if not await claims.acquire(row.question_id):
        return False
    current = await asyncio.to_thread(session.store.question, session.run_id, row.question_id)
    if current is None or current.status in ("done", "rejected"):
        await claims.release(row.question_id)
        return False
    return True


async def run_question(session: Session, row: QuestionRow) -> dict[str, Any]:
    """Run (or resume) one question's thread to its end and record its examples."""
    question = Question.model_validate(row.question)
    await session.store.amark_running(session.run_id, question.id)
    state = await advance(session, question)
    return await session.record_outcome(question, state)


async def advance(session: Session, question: Question, **invoke: Any) -> dict[str, Any]:
    """Run a question's thread on from where it stands; `invoke` goes to `graph.ainvoke`.

    A thread with only its input checkpoint (step -1) starts again with its input: resuming
    from it with no input would do nothing. A finished thread is returned as it is.
    Otherwise it resumes; `snapshot.next` may be empty even though work is left (it omits
    tasks whose writes were saved before a crash, which resuming applies).
    """
    config = session.thread_config(question.id)
    snapshot = await session.graph.aget_state(config)
    if snapshot.values.get("outcome"):
        return snapshot.values  # the graph finished; at most the bookkeeping was missing
    started = bool(snapshot.values) and (snapshot.metadata or {}).get("step", -1) >= 0
    first = None if started else {"question": question.model_dump()}
    if session.ctx.tracing:  # LangSmith: "question <id>", with its tier once known
        config = question_run_config(config, question.id, snapshot.values.get("tier"))
    return await session.graph.ainvoke(first, config, context=session.ctx, **invoke)
