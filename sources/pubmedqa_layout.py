"""PubMedQA as published: the original ``ori_pqal.json`` and the Hub's ``pqa_labeled`` rows.

The original is one object keyed by PMID, each value ``{"QUESTION", "CONTEXTS": [...],
"LABELS", "MESHES", "YEAR"?, "reasoning_required_pred", "reasoning_free_pred",
"final_decision", "LONG_ANSWER"}``; the Hub's rows are ``{"pubid", "question", "context":
{"contexts": [...], "labels", "meshes", ...}, "long_answer", "final_decision"}``. Both become the
same question: the abstract's passages as context, options A. yes, B. no, C. maybe, and the rest
as metadata under lower-case names, so a user filters both copies alike. The long answer is
metadata, never prompt material: it states the conclusion.
"""

from __future__ import annotations

from typing import Any

from reasonmed.core.question import LineError, parse_record
from reasonmed.sources.layout_records import (
    PLACEHOLDER_ANSWER,
    Converted,
    build_question,
    extras,
    fold,
    kind,
    own_id,
    picked,
    row_problems,
)

SOURCE = "pubmedqa"
SIGNATURES = (
    frozenset({"QUESTION"}),
    frozenset({"pubid", "question"}),
    frozenset({"question", "context", "final_decision"}),
)
OPTIONS = {"A": "yes", "B": "no", "C": "maybe"}
_ORIGINAL_PROMPT_FIELDS = frozenset({"QUESTION", "CONTEXTS", "final_decision"})
_HUB_PROMPT_FIELDS = frozenset({"pubid", "question", "context", "final_decision"})


def pubmedqa_question(data: Any, line: int, key: str | None = None) -> Converted:
    """One PubMedQA row as a ``Question``; ``key`` is its PMID in the keyed-object file."""
    if not isinstance(data, dict):
        return parse_record(data, line)
    if "QUESTION" in data or "CONTEXTS" in data:
        return _original_question(data, line, key)
    return _hub_question(data, line, key)


def _original_question(data: dict[str, Any], line: int, key: str | None) -> Converted:
    problems = row_problems(data, line, ("CONTEXTS", "final_decision"))
    record: dict[str, Any] = picked(data, {"question": "QUESTION"})
    record["context"] = data.get("CONTEXTS")
    record["options"] = OPTIONS
    record["answer"] = _answer_letter(data, line, problems) or PLACEHOLDER_ANSWER
    record["metadata"] = {k.lower(): v for k, v in extras(data, _ORIGINAL_PROMPT_FIELDS).items()}
    pmid = own_id(key if key is not None else data.get("pubid"), "pubid", line, problems)
    names = {"question": "QUESTION", "context": "CONTEXTS"}
    return build_question(record, line, SOURCE, pmid, names, problems)


def _hub_question(data: dict[str, Any], line: int, key: str | None) -> Converted:
    problems = row_problems(data, line, ("context", "final_decision"))
    record: dict[str, Any] = picked(data, {"question": "question"})
    context = data.get("context")
    metadata: dict[str, Any] = {}
    names = {"context": "context"}
    if isinstance(context, dict):
        names["context"] = "context.contexts"
        metadata = extras(context, ("contexts",))
        if "contexts" not in context:
            problems.append(LineError(line, "context.contexts", "missing required field"))
        context = context.get("contexts")
    elif context is not None and not isinstance(context, str | list):
        reason = f"must be an object with contexts, or the passages, got {kind(context)}"
        problems.append(LineError(line, "context", reason))
        context = None
    record["context"] = context
    record["options"] = OPTIONS
    record["answer"] = _answer_letter(data, line, problems) or PLACEHOLDER_ANSWER
    record["metadata"] = metadata | extras(data, _HUB_PROMPT_FIELDS)
    pmid = own_id(data.get("pubid", key), "pubid", line, problems)
    return build_question(record, line, SOURCE, pmid, names, problems)


def _answer_letter(data: dict[str, Any], line: int, problems: list[LineError]) -> str | None:
    """The letter of ``final_decision``: yes A, no B, maybe C; anything else is a problem."""
    if "final_decision" not in data:
        return None
    value = data["final_decision"]
    for letter, text in OPTIONS.items():
        if isinstance(value, str) and fold(value) == text:
            return letter
    problems.append(LineError(line, "final_decision", f"must be yes, no or maybe, got {value!r}"))
    return None
