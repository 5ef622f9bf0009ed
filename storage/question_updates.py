"""How a question's row changes: started, failed (with a typed failure), finished.

Plans for `Database.run`; `RunStore` wraps them. A question's end and its examples are written
in one transaction, so a crash never leaves a question done without its examples, or examples
twice.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import null, update

from reasonmed.storage.call_log import now_iso, strip_nul
from reasonmed.storage.db import Plan, Step
from reasonmed.storage.examples import ExampleRow, replace_examples
from reasonmed.storage.schema import questions as Q

FINISHED = ("done", "rejected")


class End(NamedTuple):
    """How a question finished."""

    status: str
    tier: str | None
    errors: int | None
    reason: str


def running(run_id: str, question_id: str) -> Plan:
    """Status running, one more attempt."""
    return set_question(run_id, question_id, status="running", attempts=Q.c.attempts + 1)


def failed(run_id: str, question_id: str, reason: str, failure: dict[str, Any] | None) -> Plan:
    """Status failed, with the one-line reason and the typed failure (already scrubbed)."""
    return set_question(
        run_id,
        question_id,
        status="failed",
        reason=strip_nul(reason),
        failure=strip_nul(failure) if failure is not None else null(),
    )


def finished(
    dialect: str, run_id: str, question_id: str, end: End, examples: list[ExampleRow]
) -> Plan:
    """The question's examples replaced and its end recorded; an earlier failure is cleared."""
    if end.status not in FINISHED:
        raise ValueError(f"a question finishes as 'done' or 'rejected', not {end.status!r}")
    now = now_iso()
    yield from replace_examples(dialect, run_id, question_id, examples, now)
    yield from set_question(
        run_id,
        question_id,
        status=end.status,
        tier=end.tier,
        errors=end.errors,
        reason=strip_nul(end.reason),
        examples=len(examples),
        failure=null(),  # SQL NULL, not JSON null
        updated_at=now,
    )


def set_question(run_id: str, question_id: str, **values: Any) -> Plan:
    """Update one question's row; a question that is not registered is an error, not a no-op."""
    stmt = (
        update(Q)
        .where(Q.c.run_id == run_id, Q.c.question_id == question_id)
        .values({"updated_at": now_iso(), **values})
        .returning(Q.c.question_id)
    )
    if not (yield Step(stmt, fetch=True)):
        raise LookupError(f"question {question_id!r} is not registered in run {run_id!r}")
