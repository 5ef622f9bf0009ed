"""Numbered schema migrations, recorded in `rm_schema_migrations`.

Each migration runs once, in order, inside one transaction together with its record, so two
processes opening the same database at the same time cannot both apply it (PostgreSQL takes an
advisory lock; SQLite's `BEGIN IMMEDIATE` serializes writers). A database whose schema is newer
than this code refuses to open instead of being silently misread.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, Engine, func, inspect, select, text

from reasonmed.storage import schema
from reasonmed.storage.engine import SQLITE_BEGIN

_ADVISORY_LOCK_KEY = 0x52_4D_53_43  # "RMSC"


class SchemaVersionError(RuntimeError):
    """The database was written by a newer version of this tool."""


def _create(*tables: object) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        for table in tables:
            table.create(conn, checkfirst=True)  # type: ignore[attr-defined]

    return apply


def _add_columns(*columns: Column[Any]) -> Callable[[Connection], None]:
    """Add columns that databases created by an earlier migration lack.

    A database created since sees them already (migration 2 creates the tables as `schema`
    defines them now), so each column is added only where it is missing.
    """

    def apply(conn: Connection) -> None:
        for column in columns:
            table = column.table.name
            present = {c["name"] for c in inspect(conn).get_columns(table)}
            if column.name in present:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE {table} ADD COLUMN "{column.name}" {kind}'))

    return apply


# (version, name, apply). Append only: never edit or reorder a released migration.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "checkpoint tables", _create(*schema.CHECKPOINT_TABLES)),
    (2, "runs, questions, calls, examples", _create(*schema.BOOKKEEPING_TABLES)),
    (
        3,
        "typed failures, call costs",
        _add_columns(schema.questions.c.failure, schema.llm_calls.c.cost),
    ),
    (4, "evals and their items", _create(*schema.EVAL_TABLES)),
]


def latest_version() -> int:
    """The schema version this code writes."""
    return MIGRATIONS[-1][0]


def _applied(conn: Connection) -> int:
    if not inspect(conn).has_table(schema.schema_migrations.name):
        return 0
    return conn.execute(select(func.max(schema.schema_migrations.c.version))).scalar() or 0


def migrate(engine: Engine) -> int:
    """Bring the schema up to date; return the version it is at."""
    with engine.connect().execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
        schema.schema_migrations.create(conn, checkfirst=True)
        current = _applied(conn)
        if current > latest_version():
            raise SchemaVersionError(
                f"database schema is at version {current}, newer than this reasonmed "
                f"understands ({latest_version()}); upgrade reasonmed to open it"
            )
        for version, name, apply in MIGRATIONS:
            if version <= current:
                continue
            apply(conn)
            conn.execute(
                schema.schema_migrations.insert().values(
                    version=version, name=name, applied_at=datetime.now(UTC).isoformat()
                )
            )
        return latest_version()
