"""The training-record shapes an export can write, built from one stored example row.

Trainers disagree on shape: TRL and LLaMA-Factory's `openai` format read chat `messages`,
LLaMA-Factory's `sharegpt` reads `conversations`, medical-o1-reasoning-SFT publishes
`Question` / `Complex_CoT` / `Response`, R1-style recipes want the reasoning inside
`<think>...</think>` before the answer. All are built here from the same row, so the texts
agree across formats; only where they go differs. `alpaca` is the original export, unchanged to
the byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from reasonmed.exports.jsonl_export import VARIANTS, Variant, output_text

Format = Literal["alpaca", "messages", "sharegpt", "o1", "think"]
FORMATS: tuple[Format, ...] = ("alpaca", "messages", "sharegpt", "o1", "think")
# Formats that keep the CoT and the answer apart, so only the variant holding both fits them.
_SPLIT_TEXT = ("o1", "think")

Record = dict[str, Any]


@dataclass(frozen=True)
class RecordStyle:
    """How each example becomes a record: its shape and what rides along with it."""

    format: Format = "alpaca"
    variant: Variant = "reasonmed"
    system_prompt: str = ""  # "" for none
    metadata: bool = True  # the provenance object (alpaca: its original id/slot/tier/provenance)
    reasoning_field: bool = False  # messages: CoT in `reasoning_content`, summary in `content`

    def check(self) -> None:
        """Refuse a combination that would silently drop or misplace text."""
        if self.format not in FORMATS:
            raise ValueError(
                f"unknown format {self.format!r}; expected one of {', '.join(FORMATS)}"
            )
        if self.variant not in VARIANTS:
            raise ValueError(
                f"unknown variant {self.variant!r}; expected one of {', '.join(VARIANTS)}"
            )
        if self.reasoning_field and self.format != "messages":
            raise ValueError("--reasoning-field applies to --format messages only")
        needs_both = self.format in _SPLIT_TEXT or self.reasoning_field
        if needs_both and self.variant != "reasonmed":
            what = "--reasoning-field" if self.reasoning_field else f"format {self.format}"
            raise ValueError(
                f"{what} keeps the CoT and the summary apart, so it needs --variant reasonmed "
                f"(the variant that has both), not {self.variant}"
            )
        if self.format == "o1" and self.system_prompt:
            raise ValueError("format o1 (Question / Complex_CoT / Response) has no system prompt")


def read_system_prompt(value: str | None) -> str:
    """`--system-prompt` as given: a path to an existing file is read, anything else is the text."""
    if not value:
        return ""
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value


def user_text(row: Any) -> str:
    """What the user turn says: the context (when there is one), then question and options."""
    return f"{row.input}\n\n{row.instruction}" if row.input else row.instruction


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def metadata_of(row: Any) -> Record:
    """The provenance a user filters a data set on, with stable types (floats stay floats)."""
    prov = row.provenance or {}
    return {
        "question_id": row.question_id,
        "source": row.source or "",
        "source_id": row.source_id or "",
        "subject": row.subject or "",
        "answer": row.answer or "",
        "tier": row.tier,
        "slot": row.slot,
        "model": prov.get("model"),
        "temperature": _number(prov.get("temperature")),
        "origin": row.origin,
        "verdict": prov.get("verdict"),
        "score": _number(prov.get("score")),
    }


def _alpaca(style: RecordStyle, row: Any) -> Record:
    record: Record = {}
    if style.metadata:
        record |= {"id": row.question_id, "slot": row.slot, "tier": row.tier}
    record["instruction"] = row.instruction
    record["input"] = row.input
    record["output"] = output_text(style.variant, row.cot, row.summary)
    if style.system_prompt:
        record["system"] = style.system_prompt
    if style.metadata:
        record["provenance"] = row.provenance
    return record


def _assistant(style: RecordStyle, row: Any) -> Record:
    if style.format == "think":
        return {"role": "assistant", "content": f"<think>\n{row.cot}\n</think>\n\n{row.summary}"}
    if style.reasoning_field:
        return {"role": "assistant", "content": row.summary, "reasoning_content": row.cot}
    return {"role": "assistant", "content": output_text(style.variant, row.cot, row.summary)}


def _messages(style: RecordStyle, row: Any) -> Record:
    turns = [{"role": "system", "content": style.system_prompt}] if style.system_prompt else []
    turns += [{"role": "user", "content": user_text(row)}, _assistant(style, row)]
    if style.reasoning_field:
        # Every turn carries the key (null but for the assistant's): one struct type per list,
        # which is what Arrow, `datasets` and Parquet need to type the column.
        for turn in turns[:-1]:
            turn["reasoning_content"] = None
    return {"messages": turns}


def _sharegpt(style: RecordStyle, row: Any) -> Record:
    turns = [{"from": "system", "value": style.system_prompt}] if style.system_prompt else []
    turns.append({"from": "human", "value": user_text(row)})
    turns.append({"from": "gpt", "value": output_text(style.variant, row.cot, row.summary)})
    return {"conversations": turns}


def _o1(style: RecordStyle, row: Any) -> Record:
    return {"Question": user_text(row), "Complex_CoT": row.cot, "Response": row.summary}


_SHAPES: dict[str, Callable[[RecordStyle, Any], Record]] = {
    "messages": _messages,
    "think": _messages,
    "sharegpt": _sharegpt,
    "o1": _o1,
}


def record_builder(style: RecordStyle) -> Callable[[Any], Record]:
    """A function turning one example row (`storage.export_reads`) into one record."""
    style.check()
    if style.format == "alpaca":
        return lambda row: _alpaca(style, row)
    shape = _SHAPES[style.format]
    if not style.metadata:
        return lambda row: shape(style, row)

    def build(row: Any) -> Record:
        record = shape(style, row)
        record["metadata"] = metadata_of(row)
        return record

    return build
