"""Engine setup: one database URL in, a sync and an async SQLAlchemy engine out.

Users give one URL (`sqlite:///run.db` or `postgresql+psycopg://...`); the async twin is derived
here so the rest of the code never spells a driver name. SQLite gets the settings that make many
concurrent questions safe in one process: WAL, a busy timeout, `synchronous=NORMAL`, and explicit
`BEGIN IMMEDIATE` for writers (a deferred transaction that later upgrades to a write lock fails
with "database is locked" instead of waiting).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 60.0
# Execution option naming how a SQLite transaction begins ("" = deferred, "IMMEDIATE" = writer).
SQLITE_BEGIN = "reasonmed_sqlite_begin"


class DatabaseURLError(ValueError):
    """A database URL this tool cannot use."""


@dataclass(frozen=True)
class Engines:
    """The sync and async engines of one database, plus what kind of database it is."""

    sync: Engine
    async_: AsyncEngine
    dialect: str  # "sqlite" or "postgresql"
    url: str  # the URL with any password masked, safe to print

    def dispose(self) -> None:
        """Close the sync pool (the async pool is closed by `adispose`)."""
        self.sync.dispose()

    async def adispose(self) -> None:
        """Close both pools."""
        await self.async_.dispose()
        self.sync.dispose()


def _sync_and_async_urls(url: str) -> tuple[URL, URL, str]:
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise DatabaseURLError(f"not a database URL: {url!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return (
            parsed.set(drivername="sqlite+pysqlite"),
            parsed.set(drivername="sqlite+aiosqlite"),
            "sqlite",
        )
    if backend == "postgresql":
        # psycopg 3 serves both the sync and the asyncio dialect under one driver name.
        pg = parsed.set(drivername="postgresql+psycopg")
        return pg, pg, "postgresql"
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
    """Build the engine pair for `url`; nothing connects until first use."""
    sync_url, async_url, dialect = _sync_and_async_urls(url)
    safe = sync_url.render_as_string(hide_password=True)
    if dialect == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        memory = _is_memory(sync_url)
        extra = {"poolclass": StaticPool} if memory else {"pool_size": pool_size}
        sync = create_engine(sync_url, connect_args=connect_args, echo=echo, **extra)
        aeng = create_async_engine(
            async_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, echo=echo, **extra
        )
        _install_sqlite_events(sync)
        _install_sqlite_events(aeng.sync_engine)
    else:
        common = {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": False}
        sync = create_engine(sync_url, echo=echo, **common)
        aeng = create_async_engine(async_url, echo=echo, **common)
    return Engines(sync=sync, async_=aeng, dialect=dialect, url=safe)
