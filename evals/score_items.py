"""The responses a score eval can judge: a run's exported examples, or an external JSONL file.

Both become `ScoreItem`s of one shape, so another dataset is scored exactly like ours and the
two reports compare. Only the sampled items' texts are held in memory: the population is read as
keys first (a run) or validated line by line (a file), then the sample's texts are read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonmed.evals.checks import options_from_text
from reasonmed.evals.sampling import population_fingerprint, sample_indices
from reasonmed.exports.jsonl_export import Variant, output_text
from reasonmed.storage.db import Database
from reasonmed.storage.eval_store import example_keys, run_questions
from reasonmed.storage.example_reads import iter_examples
from reasonmed.storage.runs import RunStore

MAX_LISTED_PROBLEMS = 50


@dataclass(frozen=True)
class ScoreItem:
    """One response to judge, with what the deterministic checks need (options, gold answer)."""

    item_id: str
    position: int  # index in the population
    instruction: str
    input: str
    output: str
    options: dict[str, str] = field(default_factory=dict)
    gold: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # question id, slot, tier; or line, id
    answer_parts: tuple[str, ...] = ()  # texts whose answers are checked apart (CoT, summary)

    def stored_input(self) -> dict[str, Any]:
        """What `rm_eval_items.input` keeps: enough to read the item without its source."""
        return {
            "instruction": self.instruction,
            "input": self.input,
            "output": self.output,
            "options": self.options,
            "gold": self.gold,
            **self.meta,
        }

    def judge_instruction(self) -> str:
        """The instruction as the judge sees it: with the context, when there is one."""
        if self.input.strip():
            return f"{self.instruction}\n\nContext:\n{self.input.strip()}"
        return self.instruction


@dataclass(frozen=True)
class Sample:
    """A seeded sample of a population, and what identifies that population."""

    items: list[ScoreItem]
    population: int
    population_sha256: str


def _parts(variant: Variant, cot: str, summary: str) -> tuple[str, ...]:
    """The texts of an example whose answers must each be the gold one."""
    return {"reasonmed": (cot, summary), "cotmed": (cot,), "responsemed": (summary,)}[variant]


def sample_run(db: Database, run_id: str, variant: Variant, size: int | None, seed: int) -> Sample:
    """A seeded sample of the run's exported examples, in the given export variant."""
    if RunStore(db).get_run(run_id) is None:
        raise LookupError(f"no run {run_id!r} in {db.engines.url}; list runs with reasonmed runs")
    keys = example_keys(db, run_id)
    chosen = sample_indices(len(keys), size, seed)
    wanted = {keys[i]: i for i in chosen}
    questions = run_questions(db, run_id, {qid for qid, _ in wanted})
    items: list[ScoreItem] = []
    for row in iter_examples(db, run_id):
        position = wanted.get((row.question_id, row.slot))
        if position is None:
            continue
        question = questions[row.question_id]
        items.append(
            ScoreItem(
                item_id=f"{row.question_id}#{row.slot}",
                position=position,
                instruction=row.instruction,
                input=row.input,
                output=output_text(variant, row.cot, row.summary),
                answer_parts=_parts(variant, row.cot, row.summary),
                options=dict(question.options),
                gold=question.answer,
                meta={"question_id": row.question_id, "slot": row.slot, "tier": row.tier},
            )
        )
    digest = population_fingerprint([f"{qid}#{slot}" for qid, slot in keys])
    return Sample(items=items, population=len(keys), population_sha256=digest)


def _gold_letter(answer: Any, options: dict[str, str]) -> str | None:
    """A record's answer as an option letter: the letter itself, or an option's exact text."""
    if not isinstance(answer, str) or not options:
        return None
    text = answer.strip()
    if text.upper() in options and len(text) == 1:
        return text.upper()
    matches = [k for k, v in options.items() if v.strip().casefold() == text.casefold()]
    return matches[0] if len(matches) == 1 else None


def _options(value: Any, instruction: str) -> dict[str, str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and len(value) >= 2:
        return {chr(ord("A") + i): v for i, v in enumerate(value)}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k).strip().upper(): v for k, v in value.items()}
    return options_from_text(instruction)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, record, problem) for every non-blank line of a JSONL file."""
    with path.open("r", encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"not JSON ({exc.msg})"
                continue
            if not isinstance(record, dict):
                yield number, None, "not a JSON object"
                continue
            problems = [
                f"field {name!r} must be a string"
                for name in ("instruction", "output")
                if not isinstance(record.get(name), str)
            ]
            if "input" in record and not isinstance(record["input"], str):
                problems.append("field 'input' must be a string")
            yield number, (None if problems else record), "; ".join(problems)


def sample_file(path: Path, size: int | None, seed: int) -> Sample:
    """A seeded sample of the records of an instruction / input / output JSONL file.

    Every line is validated first and every bad one listed (ValueError), before any call.
    Optional fields: `options` (list or letter-keyed object; else read from "A. ..." lines of
    the instruction) and `answer` (letter or option text) enable the answer checks; `id` is kept.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such input file")
    lines: list[int] = []
    problems: list[str] = []
    for number, record, problem in _records(path):
        if record is None:
            problems.append(f"line {number}: {problem}")
        else:
            lines.append(number)
    if problems:
        shown = problems[:MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        listing = "\n".join(f"  {p}" for p in shown) + (f"\n  ... {more} more" if more else "")
        raise ValueError(f"{path}: {len(problems)} bad record(s):\n{listing}")
    if not lines:
        raise ValueError(f"{path}: no records to score")
    chosen = {lines[i]: i for i in sample_indices(len(lines), size, seed)}
    items: list[ScoreItem] = []
    for number, record, _ in _records(path):
        if number not in chosen or record is None:
            continue
        options = _options(record.get("options"), record["instruction"])
        meta = {"line": number, **({"id": str(record["id"])} if "id" in record else {})}
        items.append(
            ScoreItem(
                item_id=f"line-{number}",
                position=chosen[number],
                instruction=record["instruction"],
                input=record.get("input") or "",
                output=record["output"],
                options=options,
                gold=_gold_letter(record.get("answer"), options),
                meta=meta,
            )
        )
    with path.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    return Sample(items=items, population=len(lines), population_sha256=digest)
