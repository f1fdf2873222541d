"""Database engine, sessions and migrations.

One engine per process and URL (cached here, not in Streamlit, so services and the CLI share it).
SQLite gets WAL, foreign keys and a busy timeout on every connection; PostgreSQL uses psycopg 3.

Every unit of work is one real transaction on both databases. Python's sqlite3 driver would open its
own transactions lazily and let the outermost savepoint commit on release (so a ``begin_nested()``
without a transaction around it committed half of a unit of work); here the driver is put in
autocommit mode and SQLAlchemy's own ``BEGIN`` is emitted instead, so savepoints nest inside it
(SQLAlchemy's documented pysqlite recipe). Writers open with ``BEGIN IMMEDIATE``
(:func:`session_scope` with ``write=True``): they take the write lock first and queue behind each
other for up to the busy timeout, instead of failing when another writer committed after they read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

import models  # noqa: F401  (registers the tables)
from dashboard.config import ROOT, get_settings
from dashboard.kernel.errors import Busy
from dashboard.kernel.privacy import address_shown

T = TypeVar("T")
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the write lock before the user is told the system is busy."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver: see _sqlite_begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
    # SQL functions of the kernel that SQLite has no form of (PostgreSQL's is plain SQL): see privacy.py
    dbapi_connection.create_function("address_shown", 1, address_shown, deterministic=True)


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: ``DATABASE_URL``)."""
    url = normalise_url(url or get_settings().database_url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
                )
                event.listen(engine, "connect", _sqlite_pragmas)
                event.listen(engine, "begin", _sqlite_begin)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine (tests switch databases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def writer(engine: Engine | None = None) -> Engine:
    """The engine whose transactions begin as writers (``BEGIN IMMEDIATE`` on SQLite; the same on
    PostgreSQL, where row locks and version checks do the queueing)."""
    return (engine or get_engine()).execution_options(write=True)


_writer_locks: dict[str, threading.RLock] = {}


def _writer_turn(engine: Engine) -> threading.RLock | None:
    """SQLite: the lock this process's writers take turns on before they ask the database for its write
    lock. SQLite's busy wait polls with growing sleeps (up to 100 ms apart) and lets newcomers in first, so
    in-process writers queued on it alone waited far longer than the lock was held (ten concurrent API
    intakes: over a second at the 95th percentile). Writers of other processes still meet the busy wait."""
    if engine.dialect.name != "sqlite":
        return None
    key = engine.url.render_as_string(hide_password=False)
    with _lock:
        return _writer_locks.setdefault(key, threading.RLock())


@contextmanager
def session_scope(engine: Engine | None = None, *, write: bool = False) -> Iterator[Session]:
    """A short session, one transaction: commit on success, roll back on error.

    `write` for a unit of work that changes data: on SQLite it takes the write lock before it reads, so
    concurrent writers queue instead of failing (those of this process on a lock of their own first,
    :func:`_writer_turn`, for at most the busy timeout).
    """
    bind = writer(engine) if write else (engine or get_engine())
    turn = _writer_turn(bind) if write else None
    if turn is not None and not turn.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
        raise Busy()
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        if is_contention(exc):
            raise Busy() from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if turn is not None:
            turn.release()


RETRY_DELAYS = (0.2, 0.5, 1.0)
"""Pauses before a unit of work is tried again after :class:`Busy` (then the user is told)."""


def run_unit(fn: Callable[[Session], T], engine: Engine | None = None) -> T:
    """Run `fn` in a writer transaction (:func:`session_scope` with ``write=True``) and commit; when
    other writers were in the way (:class:`Busy`: nothing was written), try again after a pause, and
    raise Busy only when the last try fails too. `fn` must do nothing outside the database that a
    second try would repeat."""
    for delay in (*RETRY_DELAYS, None):
        try:
            with session_scope(engine, write=True) as session:
                return fn(session)
        except Busy:
            if delay is None:
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


_CONTENTION_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
"""PostgreSQL: serialization failure, deadlock detected, lock not available."""


def is_contention(exc: BaseException) -> bool:
    """Whether a database error means "other writers were in the way" (retryable, nothing written)
    rather than a fault: SQLite's busy/locked, PostgreSQL's deadlock and serialization failures."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) in _CONTENTION_SQLSTATES:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database is busy" in message


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Migrate the database to the newest revision."""
    from alembic import command

    url = normalise_url(url or get_settings().database_url)
    engine = get_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def is_seeded(engine: Engine | None = None) -> bool:
    """True when the database holds a sub-district (the seed or an import has run)."""
    engine = engine or get_engine()
    if not inspect(engine).has_table("subdistricts"):
        return False
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM subdistricts").scalar_one() > 0
