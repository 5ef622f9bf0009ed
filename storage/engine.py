"""Engine setup: one database URL in, a configured SQLAlchemy engine out.

Users give one URL (`sqlite:///run.db` or `postgresql+psycopg://...`); the driver is chosen here
so the rest of the code never spells one. Async callers run their work on worker threads over
this engine (see `storage.db` for why that beat the asyncio drivers). SQLite gets the settings
that make many concurrent questions safe in one process: WAL, a busy timeout,
`synchronous=NORMAL`, and explicit `BEGIN IMMEDIATE` for writers (a deferred transaction that
later upgrades to a write lock fails with "database is locked" instead of waiting).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 60.0
# Execution option naming how a SQLite transaction begins ("" = deferred, "IMMEDIATE" = writer).
SQLITE_BEGIN = "reasonmed_sqlite_begin"


class DatabaseURLError(ValueError):
    """A database URL this tool cannot use."""


@dataclass(frozen=True)
class Engines:
    """The engine of one database, plus what kind of database it is."""

    sync: Engine
    dialect: str  # "sqlite" or "postgresql"
    url: str  # the URL with any password masked, safe to print

    def dispose(self) -> None:
        """Close the connection pool."""
        self.sync.dispose()


def _driver_url(url: str) -> tuple[URL, str]:
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise DatabaseURLError(f"not a database URL: {url!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite"), "sqlite"
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg"), "postgresql"
    raise DatabaseURLError(
        f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)}: "
        "use sqlite:///path.db or postgresql+psycopg://user@host/db"
    )


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _install_sqlite_events(engine: Engine) -> None:
    """Pragmas on connect; transactions begun by us so writers can ask for IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


def create_engines(url: str, *, pool_size: int = 10, echo: bool = False) -> Engines:
    """Build the engine for `url`; nothing connects until first use."""
    sync_url, dialect = _driver_url(url)
    safe = sync_url.render_as_string(hide_password=True)
    if dialect == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        extra = {"poolclass": StaticPool} if _is_memory(sync_url) else {"pool_size": pool_size}
        sync = create_engine(sync_url, connect_args=connect_args, echo=echo, **extra)
        _install_sqlite_events(sync)
    else:
        sync = create_engine(
            sync_url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
        )
    return Engines(sync=sync, dialect=dialect, url=safe)
