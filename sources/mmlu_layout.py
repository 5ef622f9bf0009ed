"""MMLU as published: the original headerless CSVs and the Hub's rows.

The original ships one CSV per subject and split (``anatomy_dev.csv``), without a header: question,
A, B, C, D, answer letter; the subject is the file name less its split. The Hub's rows are
``{"question", "subject", "choices": [4 texts], "answer": 0-3}``. A CSV with the header
``question,A,B,C,D,answer`` (or ``input,...,target``, as some mirrors write it) is read too.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from reasonmed.core.question import LineError, parse_record
from reasonmed.sources.layout_records import (
    PLACEHOLDER_ANSWER,
    Converted,
    as_int,
    build_question,
    extras,
    picked,
    row_problems,
)

SOURCE = "mmlu"
LETTER_COLUMNS = ("A", "B", "C", "D")
HEADERLESS_COLUMNS = ("question", *LETTER_COLUMNS, "answer")
SIGNATURES = (
    frozenset({"question", "choices", "answer"}),
    frozenset({"question", *LETTER_COLUMNS, "answer"}),
    frozenset({"input", *LETTER_COLUMNS, "target"}),
)
_SPLIT_SUFFIX = re.compile(r"_(dev|val|test|train)$")
_HUB_PROMPT_FIELDS = frozenset({"question", "subject", "choices", "answer"})


def subject_from_file_name(path: Path) -> str:
    """``clinical_knowledge_test.csv`` -> ``clinical_knowledge``: the stem less its split."""
    return _SPLIT_SUFFIX.sub("", path.stem)


def is_headerless_record(cells: list[str]) -> bool:
    """The shape of an original MMLU row: six cells, the last an answer letter A-D."""
    return len(cells) == len(HEADERLESS_COLUMNS) and cells[-1].strip().upper() in LETTER_COLUMNS


def mmlu_question(data: Any, line: int, file_subject: str) -> Converted:
    """One MMLU row (a dict, or the six cells of a headerless CSV row) as a ``Question``.

    ``file_subject`` is used for the lettered-column form, whose rows do not name their subject.
    """
    if isinstance(data, list):
        if len(data) != len(HEADERLESS_COLUMNS):
            shape = ", ".join(HEADERLESS_COLUMNS)
            reason = f"expected {len(HEADERLESS_COLUMNS)} columns ({shape}), got {len(data)}"
            return None, [LineError(line, "", reason)]
        data = dict(zip(HEADERLESS_COLUMNS, data, strict=True))
    if not isinstance(data, dict):
        return parse_record(data, line)
    if "choices" in data:
        return _hub_question(data, line)
    return _lettered_question(data, line, file_subject)


def _hub_question(data: dict[str, Any], line: int) -> Converted:
    problems = row_problems(data, line, ("answer",))
    record: dict[str, Any] = picked(data, {"question": "question"})
    choices = data["choices"]
    record["options"] = choices
    record["answer"] = PLACEHOLDER_ANSWER
    if "answer" in data:
        index = as_int(data["answer"])
        count = len(choices) if isinstance(choices, list) else 0
        if index is not None and 0 <= index < max(count, 1):
            record["answer"] = string.ascii_uppercase[index]
        else:
            span = f"0-{count - 1}" if count else "an index into choices"
            reason = f"must be the index of the correct choice ({span}), got {data['answer']!r}"
            problems.append(LineError(line, "answer", reason))
    record["subject"] = data.get("subject")
    record["metadata"] = extras(data, _HUB_PROMPT_FIELDS)
    return build_question(record, line, SOURCE, None, {"options": "choices"}, problems)


def _lettered_question(data: dict[str, Any], line: int, file_subject: str) -> Converted:
    question_field = "input" if "input" in data and "question" not in data else "question"
    answer_field = "target" if "target" in data and "answer" not in data else "answer"
    problems = row_problems(data, line, (*LETTER_COLUMNS, answer_field))
    record: dict[str, Any] = picked(data, {"question": question_field})
    record["options"] = [data.get(letter) for letter in LETTER_COLUMNS]
    record["answer"] = data.get(answer_field, PLACEHOLDER_ANSWER)
    subject = data.get("subject")
    record["subject"] = subject if isinstance(subject, str) and subject.strip() else file_subject
    used = {question_field, *LETTER_COLUMNS, answer_field, "subject"}
    record["metadata"] = extras(data, used)
    names = {"question": question_field, "answer": answer_field}
    return build_question(record, line, SOURCE, None, names, problems, lambda letter: letter)
