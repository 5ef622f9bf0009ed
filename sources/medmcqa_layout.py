"""MedMCQA as published: the original JSONL release and the Hub's copy.

A row is ``{"id", "question", "opa", "opb", "opc", "opd", "cop", "choice_type", "exp",
"subject_name", "topic_name"}``. ``cop`` is the correct option counted from 1 in the original
release (1-4) but from 0 on the Hub (0-3), and nothing in a row says which. The base is read from
the whole file's ``cop`` values (a 0 means base 0, a 4 means base 1) or given by the user; it is
never guessed, since a wrong base silently shifts every gold answer by one option.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reasonmed.core.question import LETTERS, LineError, parse_record
from reasonmed.sources.layout_records import (
    PLACEHOLDER_ANSWER,
    Converted,
    as_int,
    build_question,
    extras,
    own_id,
    picked,
    row_problems,
)
from reasonmed.sources.source_errors import SourceFormatError

SOURCE = "medmcqa"
SIGNATURES = (frozenset({"question", "opa", "opb", "cop"}),)
OPTION_FIELDS = ("opa", "opb", "opc", "opd")
COP_BASES = (0, 1)
_PROMPT_FIELDS = frozenset({"id", "question", *OPTION_FIELDS, "cop", "subject_name"})
_NAMES = {"answer": "cop", "subject": "subject_name"}
NO_ANSWER = -1  # the Hub's test split has no gold answers

COP_BASE_HELP = (
    "cannot tell whether cop counts the options from 0 (the Hub's copy: 0-3) or from 1 (the "
    "original release: 1-4): no 0 and no 4 occurs. Give the base: cop_base=0 or cop_base=1 "
    "(on the command line --cop-base 0|1)"
)


def read_cop_base(cops: Iterable[tuple[int, Any]], path: Path, unit: str) -> int | None:
    """The base the file's ``cop`` values show, from (location, value) pairs.

    None when no row has a usable ``cop`` (every row will report its own problem); raises
    when both a 0 and a 4 occur, or when only 1-3 occur and the base cannot be told.
    """
    first_zero: int | None = None
    first_four: int | None = None
    seen_answer = False
    for where, value in cops:
        cop = as_int(value)
        if cop is None or not 0 <= cop <= 4:
            continue
        seen_answer = True
        if cop == 0 and first_zero is None:
            first_zero = where
        if cop == 4 and first_four is None:
            first_four = where
        if first_zero is not None and first_four is not None:
            reason = (
                f"cop is 0 on {unit} {first_zero} and 4 on {unit} {first_four}: neither base "
                "0 (0-3) nor base 1 (1-4) fits every row"
            )
            raise SourceFormatError(path, reason)
    if first_zero is not None:
        return 0
    if first_four is not None:
        return 1
    if seen_answer:
        raise SourceFormatError(path, COP_BASE_HELP)
    return None


def medmcqa_question(data: Any, line: int, cop_base: int | None) -> Converted:
    """One MedMCQA row as a ``Question``; ``exp``, ``choice_type``, ``topic_name`` and other
    extras become metadata."""
    if not isinstance(data, dict):
        return parse_record(data, line)
    problems = row_problems(data, line, (*OPTION_FIELDS, "cop"))
    record: dict[str, Any] = picked(data, {"question": "question"})
    record["options"] = [data.get(field) for field in OPTION_FIELDS]
    letter = _answer_letter(data, cop_base, line, problems) if "cop" in data else None
    record["answer"] = letter or PLACEHOLDER_ANSWER
    record["subject"] = data.get("subject_name")
    record["metadata"] = extras(data, _PROMPT_FIELDS)
    qid = own_id(data.get("id"), "id", line, problems)
    return build_question(record, line, SOURCE, qid, _NAMES, problems, _option_field)


def _answer_letter(
    data: dict[str, Any], cop_base: int | None, line: int, problems: list[LineError]
) -> str | None:
    value = data["cop"]
    cop = as_int(value)
    if cop is not None and cop_base is not None and cop_base <= cop <= cop_base + 3:
        return LETTERS[cop - cop_base]
    problems.append(LineError(line, "cop", _cop_problem(value, cop, cop_base)))
    return None


def _cop_problem(value: Any, cop: int | None, cop_base: int | None) -> str:
    if cop is None:
        return f"must be an integer (1-4, or 0-3 on the Hub), got {value!r}"
    if cop == NO_ANSWER:
        return "no gold answer (cop is -1, as in the Hub's test split)"
    if cop_base is None:
        return "the cop base is unknown: " + COP_BASE_HELP
    reason = f"cop {cop} is out of range for cop_base {cop_base} ({cop_base}-{cop_base + 3})"
    if cop in (0, 4):
        other = 1 - cop_base
        reason += f"; the file may count from {other} (cop_base={other})"
    return reason


def _option_field(letter: str) -> str:
    return f"op{letter.lower()}"
