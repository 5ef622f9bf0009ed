"""Run bookkeeping: what a run is (config, prompts), which questions it holds and how each ended.

Checkpoints say where a question's graph stands; these rows say what the run as a whole must still
do, so resume streams `unfinished` questions instead of probing every thread, and status reports
are a few GROUP BYs. A question's end (status, tier, examples) is written in one transaction, so
a crash never leaves a question marked done without its examples, or examples twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Insert, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from reasonmed.core.question import Question, question_fingerprint
from reasonmed.storage import question_updates as updates
from reasonmed.storage.call_log import now_iso, strip_nul
from reasonmed.storage.db import Database, Plan, Step
from reasonmed.storage.examples import ExampleRow
from reasonmed.storage.schema import examples as E
from reasonmed.storage.schema import llm_calls as L
from reasonmed.storage.schema import questions as Q
from reasonmed.storage.schema import runs as R

QuestionStatus = Literal["pending", "running", "done", "rejected", "failed"]
STATUSES: tuple[QuestionStatus, ...] = ("pending", "running", "done", "rejected", "failed")
FINISHED = ("done", "rejected")
TIERS = ("easy", "medium", "difficult")
BATCH = 500  # rows per INSERT when registering, and per page when streaming


class RunExistsError(ValueError):
    """`create_run` was asked for a run id that is already taken."""


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run: its resolved config (no secrets), hashes and event history."""

    run_id: str
    created_at: str
    updated_at: str
    input_path: str
    config: dict[str, Any]
    config_hash: str
    prompt_hashes: dict[str, str]
    status: str
    history: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class QuestionRow:
    """One question of a run and where it stands."""

    run_id: str
    question_id: str
    position: int
    thread_id: str
    question: Question
    fingerprint: str
    status: QuestionStatus
    tier: str | None
    errors: int | None
    reason: str
    examples: int
    attempts: int
    updated_at: str
    failure: dict[str, Any] | None = None  # typed, for a failed question (see mark_failed)


def _ins(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _run_row(row: Any) -> RunRow:
    return RunRow(**dict(row._mapping))


def _question_row(row: Any) -> QuestionRow:
    values = dict(row._mapping)
    values["question"] = Question.model_validate(values["question"])
    return QuestionRow(**values)


def _one(stmt: Any) -> Plan:
    rows = yield Step(stmt, fetch=True)
    return rows[0] if rows else None


class RunStore:
    """Runs and their questions in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ins = _ins(db.dialect)

    # --- runs -------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRow | None:
        """The run, or None if no run has that id."""
        row = self.db.run(_one(select(R).where(R.c.run_id == run_id)), write=False)
        return _run_row(row) if row else None

    def create_run(
        self,
        run_id: str,
        input_path: str,
        config: dict[str, Any],
        config_hash: str,
        prompt_hashes: dict[str, str],
    ) -> RunRow:
        """Record a new run; raise `RunExistsError` if the id is taken (resume instead)."""
        now = now_iso()
        values = {
            "run_id": run_id,
            "created_at": now,
            "updated_at": now,
            "input_path": str(input_path),
            "config": config,
            "config_hash": config_hash,
            "prompt_hashes": prompt_hashes,
            "status": "created",
            "history": [{"event": "created", "at": now, "config_hash": config_hash}],
        }
        stmt = self._ins(R).values(values).on_conflict_do_nothing().returning(R)
        row = self.db.run(_one(stmt), write=True)
        if row is None:
            raise RunExistsError(f"run {run_id!r} already exists; resume it or pick another id")
        return _run_row(row)

    def update_run_config(
        self,
        run_id: str,
        config: dict[str, Any],
        config_hash: str,
        prompt_hashes: dict[str, str],
        event: dict[str, Any],
    ) -> RunRow:
        """Replace the run's config and append `event` (stamped with `at`) to its history."""
        values = {"config": config, "config_hash": config_hash, "prompt_hashes": prompt_hashes}
        return _run_row(self.db.run(_append_history(run_id, event, values), write=True))

    def record_event(self, run_id: str, event: dict[str, Any]) -> RunRow:
        """Append `event` to the run's history (a replay, say) without changing its config."""
        return _run_row(self.db.run(_append_history(run_id, event, {}), write=True))

    def set_run_status(self, run_id: str, status: str) -> None:
        """Set the run's own status: "created", then "running", then "complete" or "incomplete"."""
        self.db.run(self._run_status_plan(run_id, status), write=True)

    async def aset_run_status(self, run_id: str, status: str) -> None:
        """`set_run_status` without blocking the event loop."""
        await self.db.arun(self._run_status_plan(run_id, status), write=True)

    def _run_status_plan(self, run_id: str, status: str) -> Plan:
        stmt = update(R).where(R.c.run_id == run_id).values(status=status, updated_at=now_iso())
        yield Step(stmt)

    def list_runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first, with question counts by status, examples and calls."""

        def plan() -> Plan:
            runs = yield Step(select(R).order_by(R.c.created_at, R.c.run_id), fetch=True)
            by_status = yield Step(
                select(Q.c.run_id, Q.c.status, func.count()).group_by(Q.c.run_id, Q.c.status),
                fetch=True,
            )
            n_examples = yield Step(
                select(E.c.run_id, func.count()).group_by(E.c.run_id), fetch=True
            )
            n_calls = yield Step(select(L.c.run_id, func.count()).group_by(L.c.run_id), fetch=True)
            return runs, by_status, n_examples, n_calls

        runs, by_status, n_examples, n_calls = self.db.run(plan(), write=False)
        examples = {run_id: n for run_id, n in n_examples}
        calls = {run_id: n for run_id, n in n_calls}
        shown = ("run_id", "created_at", "updated_at", "status", "input_path", "config_hash")
        result = []
        for run in runs:
            questions = dict.fromkeys(STATUSES, 0)
            questions.update({s: n for r, s, n in by_status if r == run.run_id})
            result.append(
                {k: getattr(run, k) for k in shown}
                | {"questions": questions, "examples": examples.get(run.run_id, 0)}
                | {"calls": calls.get(run.run_id, 0)}
            )
        return result

    # --- questions --------------------------------------------------------------------------

    def register_questions(self, run_id: str, questions: Iterable[Question]) -> int:
        """Add the run's questions in input order; return how many were new.

        Idempotent: questions already registered keep their row (status, position, attempts).
        The input is consumed in batches inside one transaction, so a file that fails halfway
        registers nothing and a large file is never held in memory.
        """
        insert: Insert = self._ins(Q).on_conflict_do_nothing().returning(Q.c.question_id)

        def plan() -> Plan:
            added = 0
            numbered = enumerate(questions)
            while batch := list(itertools.islice(numbered, BATCH)):
                now = now_iso()
                rows = [
                    {
                        "run_id": run_id,
                        "question_id": q.id,
                        "position": position,
                        "thread_id": f"{run_id}:{q.id}",
                        "question": strip_nul(q.model_dump(mode="json")),
                        "fingerprint": question_fingerprint(q),
                        "status": "pending",
                        "reason": "",
                        "examples": 0,
                        "attempts": 0,
                        "updated_at": now,
                    }
                    for position, q in batch
                ]
                added += len((yield Step(insert, rows, fetch=True)) or [])
            return added

        return self.db.run(plan(), write=True)

    def question(self, run_id: str, question_id: str) -> QuestionRow | None:
        """One question's row, or None."""
        stmt = select(Q).where(Q.c.run_id == run_id, Q.c.question_id == question_id)
        row = self.db.run(_one(stmt), write=False)
        return _question_row(row) if row else None

    def unfinished(self, run_id: str, *, page: int = BATCH) -> Iterator[QuestionRow]:
        """Questions not yet done or rejected, in input order, read a page at a time.

        Paging is by position, so rows updated while the caller iterates are neither skipped
        nor repeated.
        """
        last = -1
        while True:
            stmt = (
                select(Q)
                .where(Q.c.run_id == run_id, Q.c.status.not_in(FINISHED), Q.c.position > last)
                .order_by(Q.c.position)
                .limit(page)
            )
            rows = self.db.run(_all(stmt), write=False)
            for row in rows:
                yield _question_row(row)
            if len(rows) < page:
                return
            last = rows[-1].position

    def counts(self, run_id: str) -> dict[str, Any]:
        """Question counts by status and (for finished questions) by tier, plus the total."""

        def plan() -> Plan:
            by_status = yield Step(
                select(Q.c.status, func.count()).where(Q.c.run_id == run_id).group_by(Q.c.status),
                fetch=True,
            )
            by_tier = yield Step(
                select(Q.c.tier, func.count())
                .where(Q.c.run_id == run_id, Q.c.tier.is_not(None))
                .group_by(Q.c.tier),
                fetch=True,
            )
            return by_status, by_tier

        by_status, by_tier = self.db.run(plan(), write=False)
        statuses = dict.fromkeys(STATUSES, 0) | {s: n for s, n in by_status}
        tiers = dict.fromkeys(TIERS, 0) | {t: n for t, n in by_tier}
        return {"total": sum(statuses.values()), "by_status": statuses, "by_tier": tiers}

    def mark_running(self, run_id: str, question_id: str) -> None:
        """The runner starts (or restarts) a question: status running, one more attempt."""
        self.db.run(updates.running(run_id, question_id), write=True)

    async def amark_running(self, run_id: str, question_id: str) -> None:
        """`mark_running` without blocking the event loop."""
        await self.db.arun(updates.running(run_id, question_id), write=True)

    def mark_failed(
        self, run_id: str, question_id: str, reason: str, failure: dict[str, Any] | None = None
    ) -> None:
        """A question stopped on an error the run could not handle; resume will retry it."""
        self.db.run(updates.failed(run_id, question_id, reason, failure), write=True)

    async def amark_failed(
        self, run_id: str, question_id: str, reason: str, failure: dict[str, Any] | None = None
    ) -> None:
        """`mark_failed` without blocking the event loop."""
        await self.db.arun(updates.failed(run_id, question_id, reason, failure), write=True)

    def finish_question(
        self,
        run_id: str,
        question_id: str,
        *,
        status: Literal["done", "rejected"],
        tier: str | None,
        errors: int | None,
        reason: str,
        examples: list[ExampleRow],
    ) -> None:
        """Store the question's examples and its end in one transaction.

        Examples are upserted by (run, question, slot) and slots no longer produced are deleted,
        so finishing twice leaves exactly the last finish's examples.
        """
        end = updates.End(status, tier, errors, reason)
        plan = updates.finished(self.db.dialect, run_id, question_id, end, examples)
        self.db.run(plan, write=True)

    async def afinish_question(
        self,
        run_id: str,
        question_id: str,
        *,
        status: Literal["done", "rejected"],
        tier: str | None,
        errors: int | None,
        reason: str,
        examples: list[ExampleRow],
    ) -> None:
        """`finish_question` without blocking the event loop."""
        end = updates.End(status, tier, errors, reason)
        plan = updates.finished(self.db.dialect, run_id, question_id, end, examples)
        await self.db.arun(plan, write=True)


def _append_history(run_id: str, event: dict[str, Any], values: dict[str, Any]) -> Plan:
    """Lock the run's row, append the stamped event to its history, set `values`."""
    found = yield Step(
        select(R.c.history).where(R.c.run_id == run_id).with_for_update(), fetch=True
    )
    if not found:
        raise LookupError(f"no run {run_id!r} in this database")
    now = now_iso()
    history = [*(found[0][0] or []), {"at": now, **event}]
    stmt = (
        update(R)
        .where(R.c.run_id == run_id)
        .values(history=history, updated_at=now, **values)
        .returning(R)
    )
    rows = yield Step(stmt, fetch=True)
    return rows[0]  # type: ignore[index]


def _all(stmt: Any) -> Plan:
    rows = yield Step(stmt, fetch=True)
    return rows or []
