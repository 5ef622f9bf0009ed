"""Export a run's examples as JSONL training data, and summarize a run for `status --json`.

The three variants follow the ReasonMed release: ReasonMed (CoT then summary), CoTMed (CoT only),
ResponseMed (summary only). Lines come in input order, then slot, so two exports of the same run
are byte-identical; the file appears only once complete (written aside, then renamed).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select

from reasonmed.storage.calls import USAGE_SUMS, CallLog, rollup
from reasonmed.storage.db import Database, Plan, Step
from reasonmed.storage.runs import RunStore
from reasonmed.storage.schema import examples as E
from reasonmed.storage.schema import questions as Q

Variant = Literal["reasonmed", "cotmed", "responsemed"]
VARIANTS: tuple[Variant, ...] = ("reasonmed", "cotmed", "responsemed")
PAGE = 500


def output_text(variant: Variant, cot: str, summary: str) -> str:
    """The `output` field of one example in the given variant."""
    if variant == "reasonmed":
        return f"{cot}\n\n{summary}"
    if variant == "cotmed":
        return cot
    if variant == "responsemed":
        return summary
    raise ValueError(f"unknown export variant {variant!r}; expected one of {', '.join(VARIANTS)}")


def _require_run(db: Database, run_id: str) -> None:
    if RunStore(db).get_run(run_id) is None:
        raise LookupError(f"no run {run_id!r} in {db.engines.url}")


def _page(run_id: str, after: tuple[int, int]) -> Plan:
    position, slot = after
    stmt = (
        select(Q.c.position, E)
        .join(Q, and_(Q.c.run_id == E.c.run_id, Q.c.question_id == E.c.question_id))
        .where(
            E.c.run_id == run_id,
            Q.c.status == "done",
            or_(Q.c.position > position, and_(Q.c.position == position, E.c.slot > slot)),
        )
        .order_by(Q.c.position, E.c.slot)
        .limit(PAGE)
    )
    rows = yield Step(stmt, fetch=True)
    return rows or []


def _count_examples(run_id: str) -> Plan:
    stmt = (
        select(func.count())
        .select_from(E.join(Q, and_(Q.c.run_id == E.c.run_id, Q.c.question_id == E.c.question_id)))
        .where(E.c.run_id == run_id, Q.c.status == "done")
    )
    rows = yield Step(stmt, fetch=True)
    return int(rows[0][0]) if rows else 0


def iter_examples(db: Database, run_id: str) -> Iterator[Any]:
    """Stored examples of the run's done questions, in question order then slot, paged."""
    after = (-1, -1)
    while True:
        rows = db.run(_page(run_id, after), write=False)
        yield from rows
        if len(rows) < PAGE:
            return
        after = (rows[-1].position, rows[-1].slot)


def export_examples(db: Database, run_id: str, variant: Variant, out: Path) -> int:
    """Write the run's examples to `out` as JSONL; return how many lines were written.

    Only questions that ended "done" are exported. An interrupted export leaves `out` as it was.
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"unknown export variant {variant!r}; expected one of {', '.join(VARIANTS)}"
        )
    _require_run(db, run_id)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            for row in iter_examples(db, run_id):
                record = {
                    "id": row.question_id,
                    "slot": row.slot,
                    "tier": row.tier,
                    "instruction": row.instruction,
                    "input": row.input,
                    "output": output_text(variant, row.cot, row.summary),
                    "provenance": row.provenance,
                }
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def run_status(db: Database, run_id: str) -> dict[str, Any]:
    """A run at a glance, JSON-ready: questions by status and tier, examples, calls and tokens."""
    store = RunStore(db)
    run = store.get_run(run_id)
    if run is None:
        raise LookupError(f"no run {run_id!r} in {db.engines.url}")
    counts = store.counts(run_id)
    log = CallLog(db)
    usage = log.usage(run_id)
    by_tier = log.usage_by_tier(run_id)
    examples = db.run(_count_examples(run_id), write=False)
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
