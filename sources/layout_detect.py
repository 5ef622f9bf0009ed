"""Which layout a benchmark file has, told from the fields of its first rows.

Users download benchmarks from several places and rarely say which copy they hold, so "auto"
looks at the fields the first rows carry (and, for a CSV without a header, at its shape). A file
it cannot place is refused with the fields it saw, never read under a guessed layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from reasonmed.sources import medmcqa_layout, medqa_layout, mmlu_layout, pubmedqa_layout
from reasonmed.sources.file_rows import (
    detect_container,
    first_csv_record,
    iter_rows,
    location_unit,
)
from reasonmed.sources.layout_records import kind
from reasonmed.sources.source_errors import SourceFormatError

LAYOUTS = ("reasonmed", "medqa", "medmcqa", "pubmedqa", "mmlu")
REASONMED_SIGNATURES = (frozenset({"question", "options", "answer"}),)
# Checked in this order; the project's own layout last, since MedQA rows carry its fields too.
SIGNATURES: tuple[tuple[str, tuple[frozenset[str], ...]], ...] = (
    ("medmcqa", medmcqa_layout.SIGNATURES),
    ("medqa", medqa_layout.SIGNATURES),
    ("pubmedqa", pubmedqa_layout.SIGNATURES),
    ("mmlu", mmlu_layout.SIGNATURES),
    ("reasonmed", REASONMED_SIGNATURES),
)
_SAMPLE_ROWS = 5  # rows whose fields are pooled
_SCAN_LIMIT = 50  # rows looked at to find them


@dataclass(frozen=True)
class Detected:
    """How to read a file: its container, its layout, and why that layout."""

    container: str
    layout: str
    csv_header: bool
    reason: str


def detect_layout(path: Path, layout: str = "auto") -> Detected:
    """The file's container and layout; ``layout`` other than "auto" is taken as given."""
    if layout != "auto" and layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected auto or one of {', '.join(LAYOUTS)}")
    container = detect_container(path)
    if container == "csv" and layout in ("auto", "mmlu"):
        first = first_csv_record(path)
        if mmlu_layout.is_headerless_record(first):
            shape = "a CSV without header, 6 columns, a letter last"
            return Detected(container, "mmlu", False, "given" if layout == "mmlu" else shape)
    if layout != "auto":
        return Detected(container, layout, True, "given")
    fields, problem = _first_fields(path, container)
    for name, signatures in SIGNATURES:
        for signature in signatures:
            if signature <= fields:
                reason = f"detected from the fields {', '.join(sorted(signature))}"
                return Detected(container, name, True, reason)
    raise SourceFormatError(path, _unknown_layout(fields, problem))


def _first_fields(path: Path, container: str) -> tuple[set[str], str]:
    """The fields of the first rows that are objects, and the first row that is not one;
    refuses a file with no object to show."""
    unit = location_unit(container)
    fields: set[str] = set()
    seen = 0
    first_problem = ""
    for row in islice(iter_rows(path, container), _SCAN_LIMIT):
        if isinstance(row.data, dict):
            fields.update(str(key) for key in row.data)
            seen += 1
            if seen == _SAMPLE_ROWS:
                break
        elif not first_problem:
            what = row.error or f"the row is {kind(row.data)}, not an object with fields"
            first_problem = f"{unit} {row.line}: {what}"
    if seen:
        return fields, first_problem
    if first_problem:
        raise SourceFormatError(path, f"cannot tell its layout: {first_problem}")
    raise SourceFormatError(path, "holds no rows, so its layout cannot be told")


def _unknown_layout(fields: set[str], problem: str) -> str:
    seen = ", ".join(sorted(fields)) or "none"
    expected = "; ".join(
        f"{name} ({' | '.join(', '.join(sorted(sig)) for sig in signatures)})"
        for name, signatures in SIGNATURES
    )
    stopped = f" (and {problem})" if problem else ""
    return (
        f"cannot tell its layout from the fields of its first rows: {seen}{stopped}. "
        f"Expected the fields of one of: {expected}; or name the layout"
    )
