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
FAILURE = "failure"  # selected too; shown by `reasonmed failures`


def list_questions(
    db: Database,
    run_id: str,
    *,
    statuses: Sequence[str] = (),
    tiers: Sequence[str] = (),
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The run's questions in input order, optionally only some statuses and tiers."""
    stmt = select(*(Q.c[name] for name in (*COLUMNS, FAILURE))).where(Q.c.run_id == run_id)
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


def failure_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts of failed questions by error kind and node, and of rejections by tier."""
    summary: dict[str, dict[str, int]] = {"failed_by_kind": {}, "failed_by_node": {}}
    summary["rejected_by_tier"] = {}
    for row in rows:
        if row["status"] == "failed":
            failure = row.get(FAILURE) or {}
            for key, field in (("failed_by_kind", "kind"), ("failed_by_node", "node")):
                name = str(failure.get(field) or "unknown")
                summary[key][name] = summary[key].get(name, 0) + 1
        elif row["status"] == "rejected":
            tier = str(row.get("tier") or "none")
            summary["rejected_by_tier"][tier] = summary["rejected_by_tier"].get(tier, 0) + 1
    return summary
