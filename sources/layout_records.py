"""What every benchmark layout shares: mapping a row onto the project's record, then
``parse_record``.

Each layout only says where its question, options, answer and extras are; the record then goes
through ``parse_record``, so every source gets the same normalization and invariants as the
project's own files. Its errors are renamed to the source's own field names ("opc", "cop",
"final_decision"), since those are what the user sees in the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from contextvars import ContextVar
from typing import Any

from reasonmed.core.question import LineError, Question, parse_record

Converted = tuple[Question | None, list[LineError]]
# A placeholder answer while the real one is in error: parse_record still checks everything else.
PLACEHOLDER_ANSWER = "A"
# The fields that state a row's gold answer, by any layout's name for them.
ANSWER_FIELDS = frozenset({"answer", "answer_idx", "cop", "final_decision", "target"})
# Set while reading rows only to match against (a benchmark's test split): a missing or
# unreadable gold answer is then no error, since the question is never trained on. MedMCQA's
# test split on the Hub has no answers at all (cop -1), and must still be matched against.
answers_optional: ContextVar[bool] = ContextVar("answers_optional", default=False)
_OPTION_REASON = re.compile(r"^option ([A-Z])\b")
_EMPTY = (None, "")
_INTEGER = re.compile(r"\s*([+-]?\d+)(\.0*)?\s*")


def build_question(
    record: dict[str, Any],
    line: int,
    source: str,
    own_id: str | None,
    names: Mapping[str, str],
    problems: list[LineError],
    option_name: Callable[[str], str] | None = None,
) -> Converted:
    """``parse_record`` on the mapped record, with the source's id scheme and field names.

    ``problems`` are the layout's own findings; a field they fault is not faulted again. The id
    is "<source>-<own id>" when the source has one (a MedMCQA id, a PubMedQA PMID), else
    "<source>-" + the 12-hex content hash of ``stable_question_id``: stable across runs, and
    traceable to the benchmark either way.
    """
    record = {**record, "source": source}
    if answers_optional.get():
        record["answer"] = PLACEHOLDER_ANSWER
        problems = [problem for problem in problems if problem.field not in ANSWER_FIELDS]
    if own_id:
        record |= {"id": f"{source}-{own_id}", "source_id": own_id}
    question, errors = parse_record(record, line)
    faulted = {problem.field for problem in problems}
    renamed = (_source_named(error, names, option_name) for error in errors)
    errors = problems + [error for error in renamed if error.field not in faulted]
    if errors or question is None:
        return None, errors
    if not own_id:
        content_id = f"{source}-{question.id.removeprefix('q-')}"
        question = question.model_copy(update={"id": content_id})
    return question, []


def row_problems(row: Mapping[str, Any], line: int, required: Collection[str]) -> list[LineError]:
    """Keys given twice (noted by the JSON reader) and required fields that are missing."""
    problems = [
        LineError(line, key, "field is given more than once in the record")
        for key in getattr(row, "duplicate_keys", ())
    ]
    missing = [name for name in required if name not in row]
    return problems + [LineError(line, name, "missing required field") for name in missing]


def picked(row: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """The row's values under the project's names, from ``{project field: source field}``.

    A field the row lacks is left out, so ``parse_record`` reports it as missing.
    """
    return {target: row[name] for target, name in fields.items() if name in row}


def extras(row: Mapping[str, Any], used: Collection[str]) -> dict[str, Any]:
    """The row's fields that are not prompt material: kept as metadata, never sent to a model.

    Null and empty values are left out: Parquet gives every row every column and CSV has no
    null, so keeping them would make the same data differ by the container it came in.
    """
    return {key: value for key, value in row.items() if key not in used and value not in _EMPTY}


def as_int(value: Any) -> int | None:
    """An integer given as a number or as text ("2", "2.0" from a CSV); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and (match := _INTEGER.fullmatch(value)):
        return int(match.group(1))
    return None


def own_id(value: Any, field: str, line: int, problems: list[LineError]) -> str | None:
    """The source's own id as text; None when absent or empty (the content id is used then)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        reason = f"must be a string or an integer, got {kind(value)}"
        problems.append(LineError(line, field, reason))
        return None
    return str(value).strip() or None


def fold(text: str) -> str:
    """Compare texts ignoring case and runs of white space, as answers are matched."""
    return " ".join(text.split()).casefold()


def kind(value: Any) -> str:
    """The value's type as a message names it."""
    if value is None:
        return "null"
    kinds = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"))
    kinds += ((list, "a list"), (dict, "an object"))
    return next((name for typ, name in kinds if isinstance(value, typ)), type(value).__name__)


def _source_named(
    error: LineError, names: Mapping[str, str], option_name: Callable[[str], str] | None
) -> LineError:
    field = names.get(error.field, error.field)
    if error.field == "options" and option_name is not None:
        match = _OPTION_REASON.match(error.reason)
        if match:
            field = option_name(match.group(1))
    return LineError(error.line, field, error.reason)
