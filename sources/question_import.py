"""`reasonmed import`: benchmark files in, one clean question file out, every drop on record.

The whole input is checked before anything is written (every bad row by file, line and field,
as `run` does), then the benchmark files named for decontamination are indexed, then the inputs
are streamed through the cleaner in batches and written as the project's question JSONL. Output
and report appear only once complete (written aside, then renamed), so a failed import leaves
nothing behind that looks finished.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from reasonmed.core.atomic_files import written_atomically
from reasonmed.core.question import LineError, Question, QuestionFileError
from reasonmed.sources.cleaning_records import CleaningSettings
from reasonmed.sources.question_cleaning import QuestionCleaner
from reasonmed.sources.source_reader import QuestionSource, open_source

BATCH = 1000  # questions per cleaner batch: its hashing is vectorised over a batch
Item = tuple[Question, str, int]  # a question with the file and line it came from
_OPTIONAL_FIELDS = ("context", "source", "source_id", "subject", "metadata")


class ImportInputError(ValueError):
    """Input files with bad rows: every problem, per file; nothing was written."""

    def __init__(self, problems: list[QuestionFileError]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        text = "\n".join(str(problem) for problem in self.problems)
        return (
            text + "\nnothing was written; fix the rows, or pass --skip-invalid to leave them out"
        )


@dataclass
class ImportSummary:
    """What an import did: the layouts read, and every question's fate, counted."""

    inputs: list[str] = field(default_factory=list)  # one line per input file, as described
    benchmarks: list[str] = field(default_factory=list)
    benchmark_questions: int = 0
    benchmark_unreadable: list[LineError] = field(default_factory=list)
    read: int = 0
    written: int = 0
    invalid: int = 0
    # (reason, source) -> questions dropped for it
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        """The summary for `--json` and scripts."""
        by_reason: Counter[str] = Counter()
        for (reason, _), n in self.dropped.items():
            by_reason[reason] += n
        return {
            "inputs": self.inputs,
            "benchmarks": self.benchmarks,
            "benchmark_questions": self.benchmark_questions,
            "benchmark_unreadable": len(self.benchmark_unreadable),
            "read": self.read,
            "written": self.written,
            "invalid": self.invalid,
            "dropped": dict(by_reason),
            "dropped_by_source": {
                f"{reason}/{source or '-'}": n
                for (reason, source), n in sorted(self.dropped.items())
            },
        }


def import_questions(
    inputs: Sequence[Path],
    out: Path,
    *,
    layout: str = "auto",
    cop_base: int | None = None,
    against: Sequence[Path] = (),
    report: Path | None = None,
    settings: CleaningSettings | None = None,
    skip_invalid: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> ImportSummary:
    """Read, check, clean and write; return what happened.

    Raises `SourceFormatError` for a file that cannot be placed, and `ImportInputError` for bad
    rows unless `skip_invalid`; in both cases before anything is written.
    """
    summary = ImportSummary()
    sources = [open_source(path, layout, cop_base) for path in inputs]
    summary.inputs = [source.describe() for source in sources]
    for line in summary.inputs:
        say(line)
    problems = [problem for problem in (_check(source) for source in sources) if problem]
    if problems and not skip_invalid:
        raise ImportInputError(problems)
    cleaner = QuestionCleaner(settings or CleaningSettings())
    for path in against:
        _index_benchmark(open_source(path), cleaner, summary, say)
    with ExitStack() as stack:
        stream = stack.enter_context(written_atomically(out))
        log = stack.enter_context(written_atomically(report)) if report else None
        written: set[str] = set()  # ids across files: two files may reuse one for two questions
        checked = cleaner.check_stream(_all_rows(sources, summary, log), batch_size=BATCH)
        for question, file, line, drop in checked:
            if drop is None and question.id in written:
                _reused_id(question, file, line, skip_invalid, summary, log)
            elif drop is None:
                written.add(question.id)
                stream.write(question_line(question))
                summary.written += 1
            else:
                summary.dropped[(drop.reason, question.source)] += 1
                if log is not None:
                    log.write(_json_line(drop.as_json()))
    return summary


def question_line(question: Question) -> str:
    """One line of the project's question JSONL; empty optional fields are left out."""
    record = question.model_dump(mode="json")
    for name in _OPTIONAL_FIELDS:
        if not record[name]:
            del record[name]
    return _json_line(record)


def _check(source: QuestionSource) -> QuestionFileError | None:
    try:
        source.validate()
    except QuestionFileError as problem:
        return problem
    return None


def _index_benchmark(
    source: QuestionSource, cleaner: QuestionCleaner, summary: ImportSummary, say: Callable
) -> None:
    """Every benchmark question, answered or not, goes into the cleaner's index."""
    description = source.describe()
    summary.benchmarks.append(description)
    count = 0
    for row in source.match_rows():
        if row.question is None:
            summary.benchmark_unreadable.extend(row.errors)
            continue
        cleaner.add_benchmark(row.question, str(row.file), row.line)
        count += 1
    summary.benchmark_questions += count
    say(f"decontaminating against {description}: {count} questions")


def _all_rows(
    sources: Sequence[QuestionSource], summary: ImportSummary, log: IO[str] | None
) -> Iterator[Item]:
    """Good rows of every input in order; bad ones (only with --skip-invalid) go to the report."""
    for source in sources:
        for row in source.rows():
            summary.read += 1
            if row.question is not None:
                yield row.question, str(row.file), row.line
                continue
            summary.invalid += 1
            if log is not None:
                log.write(_json_line(_invalid_record(row.file, row.line, row.errors)))


def _reused_id(
    question: Question,
    file: str,
    line: int,
    skip_invalid: bool,
    summary: ImportSummary,
    log: IO[str] | None,
) -> None:
    """A kept question whose id an earlier file's different question already has."""
    error = LineError(line, "id", f"id {question.id!r} is already used by an earlier file")
    if not skip_invalid:
        raise ImportInputError([QuestionFileError(file, [error])])
    summary.invalid += 1
    if log is not None:
        log.write(_json_line(_invalid_record(file, line, [error], question.id)))


def _invalid_record(
    file: str | Path, line: int, errors: Sequence[LineError], qid: str | None = None
) -> dict[str, Any]:
    return {
        "id": qid,
        "file": str(file),
        "line": line,
        "reason": "invalid",
        "errors": [str(error) for error in errors],
    }


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"
