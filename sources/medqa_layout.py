"""MedQA as published: the USMLE JSONL of jind11/MedQA and its copies on the Hub.

A row is ``{"question", "options": {"A": ..., "E"?: ...}, "answer_idx": "C", "answer": text,
"meta_info", ...}``. It states its answer twice, as a letter and as the option's text; the two
must agree, since a row where they do not has no trustworthy gold answer. The Hub's BigBio copy
gives options as ``[{"key": "A", "value": ...}, ...]``, read here as the same object.
"""

from __future__ import annotations

import re
import string
from typing import Any

from reasonmed.core.question import LineError, parse_record
from reasonmed.sources.layout_records import (
    PLACEHOLDER_ANSWER,
    Converted,
    build_question,
    extras,
    fold,
    kind,
    picked,
    row_problems,
)

SOURCE = "medqa"
SIGNATURES = (frozenset({"question", "options", "answer_idx"}),)
_PROMPT_FIELDS = frozenset({"question", "options", "answer", "answer_idx"})
_NAMES = {"answer": "answer_idx"}
_LETTER = re.compile(r"\s*([A-Za-z])\s*")


def medqa_question(data: Any, line: int) -> Converted:
    """One MedQA row as a ``Question``; ``meta_info`` and other extras become metadata."""
    if not isinstance(data, dict):
        return parse_record(data, line)
    problems = row_problems(data, line, ("answer_idx", "answer"))
    record: dict[str, Any] = picked(data, {"question": "question"})
    if "options" in data:
        record["options"] = _keyed_options(data["options"])
    letter = _answer_letter(data, record.get("options"), line, problems)
    record["answer"] = letter or PLACEHOLDER_ANSWER
    record["metadata"] = extras(data, _PROMPT_FIELDS)
    return build_question(record, line, SOURCE, None, _NAMES, problems)


def _keyed_options(options: Any) -> Any:
    """BigBio's list of key/value pairs as a letter-keyed object; anything else as given.

    Trailing null options are dropped: a Parquet struct holds the union of every row's keys, so
    a 4-option row of a file that also has 5-option rows reads back with ``"E": None``.
    """
    pairs = isinstance(options, list) and options
    if pairs and all(isinstance(item, dict) and set(item) == {"key", "value"} for item in pairs):
        return {item["key"]: item["value"] for item in pairs}
    if isinstance(options, dict) and options and list(options.values())[-1] is None:
        keys = list(options)
        while keys and options[keys[-1]] is None:
            keys.pop()
        return {key: options[key] for key in keys}
    return options


def _answer_letter(
    data: dict[str, Any], options: Any, line: int, problems: list[LineError]
) -> str | None:
    """``answer_idx`` as a letter, checked against ``answer``; None (and a problem) if wrong."""
    if "answer_idx" not in data or "answer" not in data:
        return None
    given, text = data["answer_idx"], data["answer"]
    match = _LETTER.fullmatch(given) if isinstance(given, str) else None
    if match is None:
        problems.append(LineError(line, "answer_idx", f"must be an option letter, got {given!r}"))
        return None
    letter = match.group(1).upper()
    by_letter = _by_letter(options)
    if by_letter is None:
        return letter  # the options themselves are wrong; parse_record says how
    if letter not in by_letter:
        reason = f"{letter!r} is not among the options {', '.join(by_letter)}"
        problems.append(LineError(line, "answer_idx", reason))
        return None
    if not isinstance(text, str):
        problems.append(LineError(line, "answer", f"must be a string, got {kind(text)}"))
        return None
    option = by_letter[letter]
    if isinstance(option, str) and fold(option) != fold(text):
        reason = f"{text!r} is not the text of option {letter} ({option!r}) that answer_idx names"
        problems.append(LineError(line, "answer", reason))
        return None
    return letter


def _by_letter(options: Any) -> dict[str, Any] | None:
    if isinstance(options, dict):
        return {str(key).strip().upper(): value for key, value in options.items()}
    if isinstance(options, list):
        return dict(zip(string.ascii_uppercase, options, strict=False))
    return None
