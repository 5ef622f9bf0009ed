"""A run at a glance, JSON-ready: what `status --json` prints, the end-of-run table shows and a
dataset card quotes.

It lives in storage (it only composes storage queries) so that every layer that describes a
run, the graph's status and the exports' dataset card alike, reads the same numbers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from reasonmed.storage.call_log import USAGE_SUMS, CallLog, rollup
from reasonmed.storage.db import Database, Plan, Step
from reasonmed.storage.example_reads import count_done_examples
from reasonmed.storage.runs import RunStore
from reasonmed.storage.schema import questions as Q


def run_overview(db: Database, run_id: str) -> dict[str, Any]:
    """Questions by status and tier, examples, calls, tokens and cost of one run."""
    store = RunStore(db)
    run = store.get_run(run_id)
    if run is None:
        raise LookupError(f"no run {run_id!r} in {db.engines.url}")
    counts = store.counts(run_id)
    log = CallLog(db)
    usage = log.usage(run_id)
    by_tier = log.usage_by_tier(run_id)
    examples = count_done_examples(db, run_id)
    total = {k: sum(u[k] for u in usage) for k in USAGE_SUMS}
    priced = total["priced"] > 0
    return {
        "run_id": run.run_id,
        "status": run.status,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "input_path": run.input_path,
        "config_hash": run.config_hash,
        "questions": counts["by_status"],
        "total_questions": counts["total"],
        "tiers": counts["by_tier"],
        "examples": examples,
        "calls": {
            "total": total,
            "by_agent": rollup(usage, ("agent",)),
            "by_model": rollup(usage, ("alias", "model")),
            "by_node": rollup(usage, ("node",)),
            "by_tier": by_tier,
        },
        # Cost at the prices the run had when each call was made; None when nothing is priced.
        # `unpriced_calls` > 0 means the total leaves some calls out.
        "cost": {
            "total": total["cost"] if priced else None,
            "per_example": (total["cost"] / examples if examples else None) if priced else None,
            "unpriced_calls": total["calls"] - total["priced"],
        },
    }


def _tier_outcomes(run_id: str) -> Plan:
    stmt = (
        select(Q.c.tier, Q.c.status, func.count(), func.sum(Q.c.errors))
        .where(Q.c.run_id == run_id, Q.c.status.in_(("done", "rejected")))
        .group_by(Q.c.tier, Q.c.status)
    )
    rows = yield Step(stmt, fetch=True)
    return rows or []


def tier_outcomes(db: Database, run_id: str) -> list[dict[str, Any]]:
    """Finished questions by (tier, status) with their summed Error verdicts: the pass rates a
    dataset card states, without reading a checkpoint."""
    return [
        {"tier": tier, "status": status, "questions": int(n), "errors": int(errors or 0)}
        for tier, status, n, errors in db.run(_tier_outcomes(run_id), write=False)
    ]
