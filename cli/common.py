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


def add_question_format(parser: argparse.ArgumentParser, default: str) -> None:
    """`--format` and `--cop-base`: how to read a question file (the project's own, or a
    benchmark's file as published)."""
    from reasonmed.sources.source_reader import LAYOUTS

    parser.add_argument(
        "--format",
        dest="question_format",
        choices=("auto", *LAYOUTS),
        default=default,
        help=f"layout of the question file(s): {', '.join(LAYOUTS)}, or auto to detect it from "
        f"the fields (default {default})",
    )
    parser.add_argument(
        "--cop-base",
        type=int,
        choices=(0, 1),
        help="MedMCQA: cop counts from 0 (the Hub's copy) or from 1 (the original release); "
        "needed only when the file does not show it (no 0 and no 4 in it)",
    )


def format_options(args: argparse.Namespace) -> list[str]:
    """`--format` and `--cop-base` as given, to repeat them in a printed or spawned command."""
    parts = []
    if args.question_format != "reasonmed":
        parts += ["--format", args.question_format]
    if args.cop_base is not None:
        parts += ["--cop-base", str(args.cop_base)]
    return parts


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
