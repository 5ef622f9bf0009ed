"""Question files: check the whole file before a run starts, then stream it.

Two formats are read, told apart by the first non-space character: a JSON array (``[``) or JSONL
(one JSON object per line, blank lines allowed). Each record is
``{"id"?, "question", "options", "answer", "context"?, "source"?}``; unknown fields are ignored.
The rules for one record live in ``reasonmed.core.question.parse_record``.

Validation reports every problem at once, each with its 1-based line, so a user fixes a file in one
pass. It keeps only the ids seen so far, never the records: JSONL is read line by line. A JSON array
is read as text in full (the format needs it) but decoded one element at a time, and a syntax error
in it ends the check, since nothing after it can be located reliably.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from reasonmed.core.question import (
    LineError,
    Question,
    QuestionFileError,
    parse_record,
)
from reasonmed.sources.json_stream import DECODER

__all__ = [
    "LineError",
    "Question",
    "QuestionFileError",
    "iter_questions",
    "load_questions",
    "validate_question_file",
]

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


_DECODER = DECODER  # notes keys given twice, which plain ``json`` would drop silently
# One decoded record, or the problems that kept it from being decoded.
_RawRecord = tuple[int, Any, list[LineError]]


def validate_question_file(path: str | Path) -> int:
    """Check every record; return the number of questions, or raise listing every problem."""
    path = Path(path)
    count = 0
    errors: list[LineError] = []
    for question, problems in _scan(path):
        if problems:
            errors.extend(problems)
        elif question is not None:
            count += 1
    if errors:
        raise QuestionFileError(path, errors)
    return count


def iter_questions(path: str | Path) -> Iterator[Question]:
    """Yield questions in file order without holding them all; raise at the first bad record.

    Meant to run after ``validate_question_file``; the check here is a guard so that a file edited
    in between never yields a half-valid question.
    """
    path = Path(path)
    for question, problems in _scan(path):
        if problems:
            raise QuestionFileError(path, problems)
        if question is not None:
            yield question


def load_questions(path: str | Path) -> list[Question]:
    """All questions of a small file, after the same whole-file check as validation."""
    path = Path(path)
    questions: list[Question] = []
    errors: list[LineError] = []
    for question, problems in _scan(path):
        if problems:
            errors.extend(problems)
        elif question is not None:
            questions.append(question)
    if errors:
        raise QuestionFileError(path, errors)
    return questions


def _scan(path: Path) -> Iterator[tuple[Question | None, list[LineError]]]:
    """Each record's outcome in file order, with ids checked against the earlier records."""
    first_line_of_id: dict[str, int] = {}
    any_record = False
    for line, record, problems in _read_records(path):
        any_record = True
        if problems:
            yield None, problems
            continue
        question, problems = parse_record(record, line)
        if question is None:
            yield None, problems
            continue
        first = first_line_of_id.get(question.id)
        if first is not None:
            derived = " (derived from the same question, options and answer)"
            note = derived if record.get("id") is None else ""
            reason = f"duplicate id {question.id!r}{note}; first used on line {first}"
            yield None, [LineError(line, "id", reason)]
            continue
        first_line_of_id[question.id] = line
        yield question, []
    if not any_record:
        yield None, [LineError(1, "", "the file holds no questions")]


def _read_records(path: Path) -> Iterator[_RawRecord]:
    with path.open("rb") as stream:
        is_array = _first_significant_byte(stream) == b"["
        stream.seek(0)
        if is_array:
            yield from _read_json_array(stream.read())
        else:
            yield from _read_jsonl(stream)


def _first_significant_byte(stream: BinaryIO) -> bytes:
    head = stream.read(len(_BOM))
    if head != _BOM:
        stream.seek(0)
    while chunk := stream.read(65536):
        stripped = chunk.lstrip(_WHITESPACE)
        if stripped:
            return stripped[:1]
    return b""


def _read_jsonl(stream: BinaryIO) -> Iterator[_RawRecord]:
    for line_no, raw in enumerate(stream, start=1):
        if line_no == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = _utf8_reason(exc)
            yield line_no, None, [LineError(line_no, "", reason)]
            continue
        if not text.strip():
            continue
        try:
            record = _DECODER.decode(text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            reason = f"not valid JSON: {exc.msg} (column {exc.colno})"
            yield line_no, None, [LineError(line_no, "", reason)]
            continue
        yield line_no, record, []


def _read_json_array(data: bytes) -> Iterator[_RawRecord]:
    """Decode the elements one by one, noting the line where each one starts."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        yield line_no, None, [LineError(line_no, "", _utf8_reason(exc, line_start))]
        return

    lines = _LineCounter(text)
    pos = _skip_space(text, 0) + 1  # past the "["
    pos = _skip_space(text, pos)
    if text.startswith("]", pos):
        yield from _trailing_text_check(text, pos + 1, lines)
        return
    while True:
        start_line = lines.line_at(pos)
        try:
            record, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            reason = f"not valid JSON: {exc.msg} (column {exc.colno})"
            yield exc.lineno, None, [LineError(exc.lineno, "", reason)]
            return
        yield start_line, record, []
        pos = _skip_space(text, pos)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
            continue
        if text.startswith("]", pos):
            yield from _trailing_text_check(text, pos + 1, lines)
            return
        line_no = lines.line_at(pos)
        found = "the end of the file" if pos >= len(text) else repr(text[pos])
        reason = f"not valid JSON: expected ',' or ']' after an array element, found {found}"
        yield line_no, None, [LineError(line_no, "", reason)]
        return


def _trailing_text_check(text: str, pos: int, lines: _LineCounter) -> Iterator[_RawRecord]:
    pos = _skip_space(text, pos)
    if pos < len(text):
        line_no = lines.line_at(pos)
        reason = "not valid JSON: text after the closing ']' of the array"
        yield line_no, None, [LineError(line_no, "", reason)]


class _LineCounter:
    """Line numbers for increasing offsets into one text, counting each newline only once."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1

    def line_at(self, pos: int) -> int:
        self._line += self._text.count("\n", self._pos, pos)
        self._pos = pos
        return self._line


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _utf8_reason(exc: UnicodeDecodeError, line_start: int = 0) -> str:
    """Name the first bad byte and where it sits in its line, so it can be found in an editor."""
    column = exc.start - line_start + 1
    return f"not valid UTF-8: byte 0x{exc.object[exc.start]:02X} at byte {column} of the line"
