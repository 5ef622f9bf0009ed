"""Training examples: built from a finished question's graph state, stored in `rm_examples`.

The row keeps the CoT and the summary apart (the three export variants combine them differently)
and carries its provenance (which model, at which temperature, how it was judged) so a dataset
can be filtered or audited without the call log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from reasonmed.core.question import Question
from reasonmed.storage.call_log import strip_nul
from reasonmed.storage.db import Plan, Step
from reasonmed.storage.schema import examples as E

_KEEP_ON_UPDATE = ("run_id", "question_id", "slot", "created_at")


@dataclass(frozen=True, slots=True)
class ExampleRow:
    """One kept chain of thought of one question, ready for export."""

    run_id: str
    question_id: str
    slot: int
    tier: str
    origin: str  # generated | refined | regenerated
    cot: str
    summary: str
    instruction: str  # the question, a blank line, the lettered options
    input: str  # the question's context, or ""
    provenance: dict[str, Any]

    def as_row(self, *, created_at: str) -> dict[str, Any]:
        """Column values for `rm_examples` (model text stripped of NULs, as PostgreSQL needs)."""
        return {
            "run_id": self.run_id,
            "question_id": self.question_id,
            "slot": self.slot,
            "tier": self.tier,
            "origin": self.origin,
            "cot": strip_nul(self.cot),
            "summary": strip_nul(self.summary),
            "instruction": strip_nul(self.instruction),
            "input": strip_nul(self.input),
            "provenance": strip_nul(self.provenance),
            "created_at": created_at,
        }


def instruction_for(question: Question) -> str:
    """The instruction field: the question text, a blank line, then "A. ..." option lines."""
    return f"{question.question}\n\n{question.lettered_options()}"


def examples_from_state(run_id: str, question: Question, state: dict[str, Any]) -> list[ExampleRow]:
    """The examples of a finished question, in slot order.

    A rejected question yields none, and so does a kept record that is not ready (its refined or
    regenerated text never passed re-verification): only verified text becomes training data.
    """
    if (state.get("outcome") or {}).get("status") == "rejected":
        return []
    paths = {p["index"]: p for p in state.get("paths") or [] if "index" in p}
    scores = {s["index"]: s.get("score") for s in state.get("scores") or [] if "index" in s}
    tier = state.get("tier")
    rows = []
    for kept in sorted(state.get("kept") or [], key=lambda k: k["slot"]):
        if kept.get("status", "ready") != "ready" or not kept.get("cot"):
            continue
        if tier is None:
            raise ValueError(f"question {question.id!r} has kept paths but no tier")
        source = kept.get("source_index")
        path = paths.get(source, {})
        score = kept.get("score")
        rows.append(
            ExampleRow(
                run_id=run_id,
                question_id=question.id,
                slot=kept["slot"],
                tier=tier,
                origin=kept.get("origin", "generated"),
                cot=kept["cot"],
                summary=kept.get("summary", ""),
                instruction=instruction_for(question),
                input=question.context or "",
                provenance={
                    "model": path.get("model"),
                    "temperature": path.get("temperature"),
                    "source_index": source,
                    "origin": kept.get("origin", "generated"),
                    "verdict": kept.get("verdict"),
                    "reason": kept.get("reason", ""),
                    "score": score if score is not None else scores.get(source),
                    "note": kept.get("note", ""),
                },
            )
        )
    return rows


def replace_examples(
    dialect: str, run_id: str, question_id: str, examples: list[ExampleRow], now: str
) -> Plan:
    """Plan steps making the question's stored examples exactly `examples`.

    Upserts by (run, question, slot) and deletes the slots no longer produced, so a question
    finished twice (a resume after a crash past the graph's end) never has duplicate examples.
    """
    for ex in examples:
        if (ex.run_id, ex.question_id) != (run_id, question_id):
            raise ValueError(f"example of {ex.question_id!r} given for question {question_id!r}")
    rows = [ex.as_row(created_at=now) for ex in examples]
    stale = delete(E).where(E.c.run_id == run_id, E.c.question_id == question_id)
    if rows:
        stale = stale.where(E.c.slot.not_in([row["slot"] for row in rows]))
    yield Step(stale)
    if rows:
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(E)
        upsert = insert.on_conflict_do_update(
            index_elements=[E.c.run_id, E.c.question_id, E.c.slot],
            set_={
                c.name: insert.excluded[c.name] for c in E.columns if c.name not in _KEEP_ON_UPDATE
            },
        )
        yield Step(upsert, rows)
