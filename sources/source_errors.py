"""The two ways a benchmark file goes wrong: it cannot be read or placed at all, or a row is bad.

A bad row is a ``LineError`` like the project's own question files give, so the CLI prints every
source alike. Parquet has no lines, so its rows are located as "row N" by ``SourceLineError``,
which is a ``LineError`` with the unit in its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reasonmed.core.question import LineError


class SourceFormatError(ValueError):
    """A file that cannot be read or placed at all; ``str()`` starts with the file's path."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class SourceLineError(LineError):
    """A ``LineError`` whose location is counted in ``unit`` ("row" for Parquet) not lines."""

    unit: str = "line"

    def __str__(self) -> str:
        where = f"{self.unit} {self.line}" + (f", field {self.field!r}" if self.field else "")
        return f"{where}: {self.reason}"


def located(errors: list[LineError], unit: str) -> list[LineError]:
    """The same errors, told in ``unit``; lines stay plain ``LineError``s, as today's reader."""
    if unit == "line":
        return errors
    return [SourceLineError(e.line, e.field, e.reason, unit) for e in errors]
