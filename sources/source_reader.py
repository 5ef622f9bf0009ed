"""Benchmark files as published, read into validated ``Question``s: the public entry point.

``open_source`` places a file (container and layout, detected or given; MedMCQA's ``cop`` base,
read from the data or given), and the ``QuestionSource`` it returns streams the rows. The same
contract as the project's own question files holds for every layout: the whole file is checked
before a run (``validate``, every bad row by file, line and field), only the ids seen so far are
kept, and an id repeated within one file is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonmed.core.question import LineError, Question, QuestionFileError, parse_record
from reasonmed.sources.file_rows import RawRow, iter_rows, location_unit, parquet_columns
from reasonmed.sources.layout_detect import LAYOUTS, Detected, detect_layout
from reasonmed.sources.layout_records import (
    PLACEHOLDER_ANSWER,
    Converted,
    answers_optional,
)
from reasonmed.sources.medmcqa_layout import COP_BASES, medmcqa_question, read_cop_base
from reasonmed.sources.medqa_layout import medqa_question
from reasonmed.sources.mmlu_layout import mmlu_question, subject_from_file_name
from reasonmed.sources.pubmedqa_layout import pubmedqa_question
from reasonmed.sources.question_files import iter_questions, validate_question_file
from reasonmed.sources.source_errors import SourceFormatError, located

__all__ = ["LAYOUTS", "QuestionSource", "SourceFormatError", "SourceRow", "open_source"]

_CONTAINER_NAMES = {
    "jsonl": "JSONL",
    "json_array": "JSON array",
    "json_keyed": "JSON object keyed by id",
    "csv": "CSV",
    "parquet": "Parquet",
}


@dataclass(frozen=True)
class SourceRow:
    """One row's outcome: its question, or None and every problem found in it."""

    file: Path
    line: int  # 1-based line; the 1-based row number in a Parquet file
    question: Question | None
    errors: list[LineError]


def open_source(
    path: str | Path, layout: str = "auto", cop_base: int | None = None
) -> QuestionSource:
    """Place the file and return its reader; raise ``SourceFormatError`` if it cannot be placed.

    For MedMCQA without ``cop_base`` this reads every ``cop`` once (one column of a Parquet file)
    to learn the base, and refuses when the data do not show it.
    """
    path = Path(path)
    if cop_base is not None and cop_base not in COP_BASES:
        raise ValueError(f"cop_base must be 0 or 1, got {cop_base!r}")
    if not path.is_file():
        raise SourceFormatError(path, "no such file")
    detected = detect_layout(path, layout)
    if cop_base is not None and detected.layout != "medmcqa":
        reason = f"cop_base is for MedMCQA files; this file has the {detected.layout} layout"
        raise SourceFormatError(path, reason)
    base_from = "given" if cop_base is not None else ""
    if detected.layout == "medmcqa" and cop_base is None:
        cop_base = read_cop_base(_cop_values(path, detected), path, _unit(detected))
        base_from = "read from the data"
    return QuestionSource(path, detected, cop_base, base_from)


class QuestionSource:
    """A placed benchmark file; every method streams it again from the start."""

    def __init__(
        self, path: Path, detected: Detected, cop_base: int | None, cop_base_from: str
    ) -> None:
        self.path = path
        self.layout = detected.layout
        self.cop_base = cop_base
        self.container = detected.container
        self.unit = _unit(detected)  # "line", or "row" for Parquet
        self.layout_reason = detected.reason
        self._detected = detected
        self._cop_base_from = cop_base_from
        self._file_subject = subject_from_file_name(path)

    def describe(self) -> str:
        """What was decided about the file, in one line for the user."""
        text = f"{self.path}: {self.layout} layout ({self.layout_reason}), "
        text += _CONTAINER_NAMES.get(self.container, self.container)
        if self.layout == "medmcqa":
            if self.cop_base is None:
                text += "; no usable cop values"
            else:
                text += f"; cop base {self.cop_base} ({self._cop_base_from})"
        return text

    def rows(self) -> Iterator[SourceRow]:
        """Every row's outcome in file order, ids checked against the earlier rows."""
        return self._rows(answers_needed=True)

    def match_rows(self) -> Iterator[SourceRow]:
        """Rows to match against, not to train on (a benchmark's test split): a row whose only
        problem is a missing or unreadable gold answer still yields its question, with a
        placeholder answer that means nothing."""
        return self._rows(answers_needed=False)

    def _rows(self, answers_needed: bool) -> Iterator[SourceRow]:
        first_row_of_id: dict[str, int] = {}
        any_row = False
        for raw in iter_rows(self.path, self.container, csv_header=self._detected.csv_header):
            any_row = True
            if raw.error:
                question, errors = None, [LineError(raw.line, "", raw.error)]
            else:
                token = answers_optional.set(not answers_needed)
                try:  # set and reset around the call alone: the flag never leaks to the caller
                    question, errors = self._convert(raw)
                finally:
                    answers_optional.reset(token)
            if question is not None:
                first = first_row_of_id.get(question.id)
                if first is None:
                    first_row_of_id[question.id] = raw.line
                else:
                    question, errors = None, [self._duplicate(raw, question, first)]
            yield SourceRow(self.path, raw.line, question, located(errors, self.unit))
        if not any_row:
            empty = [LineError(1, "", "the file holds no questions")]
            yield SourceRow(self.path, 1, None, located(empty, self.unit))

    def questions(self) -> Iterator[Question]:
        """The good questions in file order; bad rows are skipped, so call ``validate`` first."""
        if self._own_file():
            yield from iter_questions(self.path)
            return
        for row in self.rows():
            if row.question is not None:
                yield row.question

    def validate(self) -> int:
        """Check every row in one pass; return the number of questions, or raise listing every
        problem (``QuestionFileError``, whose message names the file)."""
        if self._own_file():
            return validate_question_file(self.path)
        count = 0
        errors: list[LineError] = []
        for row in self.rows():
            errors.extend(row.errors)
            count += row.question is not None
        if errors:
            raise QuestionFileError(self.path, errors)
        return count

    def _own_file(self) -> bool:
        """The project's own JSONL or JSON array: read by the reader `run` has always used."""
        return self.layout == "reasonmed" and self.container in ("jsonl", "json_array")

    def _convert(self, raw: RawRow) -> Converted:
        if self.layout == "medqa":
            return medqa_question(raw.data, raw.line)
        if self.layout == "medmcqa":
            return medmcqa_question(raw.data, raw.line, self.cop_base)
        if self.layout == "pubmedqa":
            return pubmedqa_question(raw.data, raw.line, raw.key)
        if self.layout == "mmlu":
            return mmlu_question(raw.data, raw.line, self._file_subject)
        data = raw.data
        if answers_optional.get() and isinstance(data, dict):
            data = {**data, "answer": PLACEHOLDER_ANSWER}
        return parse_record(data, raw.line)

    def _duplicate(self, raw: RawRow, question: Question, first: int) -> LineError:
        """The error for an id used before, saying so when the id came from the content."""
        if self.layout == "reasonmed":
            derived = isinstance(raw.data, dict) and raw.data.get("id") is None
        else:
            derived = not question.source_id
        note = " (derived from the same question, options and answer)" if derived else ""
        reason = f"duplicate id {question.id!r}{note}; first used on {self.unit} {first}"
        return LineError(raw.line, "id", reason)


def _cop_values(path: Path, detected: Detected) -> Iterator[tuple[int, Any]]:
    """(location, cop) of every row, for the base; a Parquet file reads that column alone."""
    columns = None
    if detected.container == "parquet":
        if "cop" not in parquet_columns(path):
            return
        columns = ["cop"]
    rows = iter_rows(path, detected.container, csv_header=detected.csv_header, columns=columns)
    for raw in rows:
        if isinstance(raw.data, dict) and "cop" in raw.data:
            yield raw.line, raw.data["cop"]


def _unit(detected: Detected) -> str:
    return location_unit(detected.container)
