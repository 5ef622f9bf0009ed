"""The rows a run report is computed from, and how they are read out of a run's database.

The numbers (`report_numbers`) take these plain dataclasses, so they are tested with hand-made
data; only `load_inputs` touches the database. Paths and kept CoTs come from the head checkpoint
of each question's thread, which is authoritative (the call log also holds re-asks, discarded
samples and cache hits, and knows nothing of the deterministic answer check). Only the fields
the report needs are kept, and examples are reduced to their lengths while streaming, so a
large run is never held in memory as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reasonmed.storage.db import Database
from reasonmed.storage.example_reads import iter_examples
from reasonmed.storage.run_reads import question_rows, reverify_verdicts, usage_by_question
from reasonmed.storage.runs import RunStore
from reasonmed.storage.saver import SQLAlchemySaver

PATH_FIELDS = ("index", "model", "temperature", "verdict", "answer_ok", "correct", "verify_failure")
KEPT_FIELDS = ("slot", "origin", "status", "note", "attempts")


@dataclass(frozen=True)
class QuestionData:
    """One question: its row, what its head checkpoint says, and what its calls used."""

    question_id: str
    status: str  # pending | running | done | rejected | failed
    tier: str | None  # as recorded at its end, else as classified in its head checkpoint
    reason: str = ""
    failure_kind: str | None = None  # the typed failure's kind, for failed questions
    paths: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0  # of the priced calls
    priced_calls: int = 0


@dataclass(frozen=True)
class ExampleData:
    """One stored example, reduced to what the length statistics need."""

    question_id: str
    slot: int
    tier: str
    origin: str
    cot_chars: int
    cot_words: int
    summary_chars: int
    summary_words: int

    @classmethod
    def of(
        cls, question_id: str, slot: int, tier: str, origin: str, cot: str, summary: str
    ) -> ExampleData:
        """Lengths of an example's texts (words: whitespace-separated tokens)."""
        return cls(
            question_id=question_id,
            slot=slot,
            tier=tier,
            origin=origin,
            cot_chars=len(cot),
            cot_words=len(cot.split()),
            summary_chars=len(summary),
            summary_words=len(summary.split()),
        )


@dataclass(frozen=True)
class ReportInputs:
    """Everything a run report is computed from."""

    run_id: str
    config_hash: str
    prompt_hashes: dict[str, str]
    run_status: str = ""
    created_at: str = ""
    updated_at: str = ""
    questions: list[QuestionData] = field(default_factory=list)
    examples: list[ExampleData] = field(default_factory=list)
    # Verifier replies at re-verification, by the question's tier: (tier, verdict or None).
    reverify_verdicts: list[tuple[str | None, str | None]] = field(default_factory=list)


def _pick(records: Iterable[dict[str, Any]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{k: r.get(k) for k in names if k in r} for r in records]


def _head_values(saver: SQLAlchemySaver, thread_id: str) -> dict[str, Any]:
    head = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    return dict(head.checkpoint["channel_values"]) if head else {}


def load_inputs(db: Database, run_id: str) -> ReportInputs:
    """Read one run's rows; a LookupError names a run that is not in the database."""
    store = RunStore(db)
    run = store.get_run(run_id)
    if run is None:
        known = [r["run_id"] for r in store.list_runs()][:5]
        hint = f"; runs here: {', '.join(known)}" if known else ""
        raise LookupError(f"no run {run_id!r} in this database{hint}")
    usage = usage_by_question(db, run_id)
    saver = SQLAlchemySaver(db)
    rows = question_rows(db, run_id)
    questions = []
    for row in rows:
        values = _head_values(saver, row.thread_id)
        questions.append(
            QuestionData(
                question_id=row.question_id,
                status=row.status,
                tier=row.tier or values.get("tier"),
                reason=row.reason or "",
                failure_kind=(row.failure or {}).get("kind"),
                paths=_pick(values.get("paths") or [], PATH_FIELDS),
                kept=_pick(values.get("kept") or [], KEPT_FIELDS),
                **usage.get(row.question_id, {}),
            )
        )
    examples = [
        ExampleData.of(e.question_id, e.slot, e.tier, e.origin, e.cot, e.summary)
        for e in iter_examples(db, run_id)
    ]
    return ReportInputs(
        run_id=run.run_id,
        config_hash=run.config_hash,
        prompt_hashes=dict(run.prompt_hashes or {}),
        run_status=run.status,
        created_at=run.created_at,
        updated_at=run.updated_at,
        questions=questions,
        examples=examples,
        reverify_verdicts=reverify_verdicts(db, run_id),
    )
