"""What every `reasonmed` command shares: exit codes, the database option, opening a database."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reasonmed.graph.runner import DEFAULT_DB
from reasonmed.storage.db import Database

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_CONFIG_CHANGED, EXIT_BUDGET = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130


def add_db(parser: argparse.ArgumentParser) -> None:
    """`--db URL`, defaulting to the embedded SQLite file in the working directory."""
    parser.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """`--set KEY=VALUE`, repeatable: config overrides on top of the file or the stored config."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. agents.verifier.model=other",
    )


def require_file(path: Path, what: str) -> None:
    """A clear error for a missing input file, before anything else happens."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what}")


@contextmanager
def open_db(url: str) -> Iterator[Database]:
    """A database for one command, closed however the command ends."""
    db = Database.from_url(url)
    try:
        yield db
    finally:
        db.close()
