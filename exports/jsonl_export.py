"""Export a run's examples as JSONL training data.

The three variants follow the ReasonMed release: ReasonMed (CoT then summary), CoTMed (CoT only),
ResponseMed (summary only). Lines come in input order, then slot, so two exports of the same run
are byte-identical; the file appears only once complete (written aside, then renamed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from reasonmed.core.atomic_files import written_atomically
from reasonmed.storage.db import Database
from reasonmed.storage.example_reads import iter_examples
from reasonmed.storage.runs import RunStore

Variant = Literal["reasonmed", "cotmed", "responsemed"]
VARIANTS: tuple[Variant, ...] = ("reasonmed", "cotmed", "responsemed")


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


def export_examples(db: Database, run_id: str, variant: Variant, out: Path) -> int:
    """Write the run's examples to `out` as JSONL; return how many lines were written.

    Only questions that ended "done" are exported. An interrupted export leaves `out` as it was.
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"unknown export variant {variant!r}; expected one of {', '.join(VARIANTS)}"
        )
    _require_run(db, run_id)
    count = 0
    with written_atomically(out) as stream:
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
    return count
