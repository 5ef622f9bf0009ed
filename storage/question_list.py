"""The questions of a run as rows a person reads: `reasonmed questions` and `failures`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from reasonmed.storage.db import Database, Plan, Step
from reasonmed.storage.schema import questions as Q

COLUMNS = (
    "question_id",
    "status",
    "tier",
    "errors",
    "examples",
    "attempts",
    "reason",
    "updated_at",
)


def list_questions(
    db: Database,
    run_id: str,
    *,
    statuses: Sequence[str] = (),
    tiers: Sequence[str] = (),
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The run's questions in input order, optionally only some statuses and tiers."""
    stmt = select(*(Q.c[name] for name in COLUMNS)).where(Q.c.run_id == run_id)
    if statuses:
        stmt = stmt.where(Q.c.status.in_(list(statuses)))
    if tiers:
        stmt = stmt.where(Q.c.tier.in_(list(tiers)))
    stmt = stmt.order_by(Q.c.position)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(row._mapping) for row in db.run(_rows(stmt), write=False)]


def _rows(stmt: Any) -> Plan:
    rows = yield Step(stmt, fetch=True)
    return rows or []
