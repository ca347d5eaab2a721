"""Opening a metadata store: engine set-up, write transactions, retries.

SQLite runs in WAL mode with foreign keys on and a busy timeout; write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the lock
instead of dead-locking on a read-to-write upgrade. A write that still meets
"database is locked" is retried with exponential backoff, so concurrent
processes never see that error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from steward.errors import InvalidInput, MissingDependency

T = TypeVar("T")

_WRITE_OPTION = "steward_write"
_SQLITE_BUSY_TIMEOUT_MS = 30_000
_RETRY_DEADLINE_S = 120.0
_DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres"}


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_store_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine for a store URL.

    Raises:
        InvalidInput: the URL is malformed or names an unsupported database.
        MissingDependency: the database driver is not installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(
            f"store URL {url!r} is malformed; expected e.g. 'sqlite:///path/steward.db' "
            "or 'postgresql+psycopg://user@host:5432/db'."
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=4, max_overflow=4)
        except ImportError as exc:
            driver = parsed.get_driver_name()
            raise MissingDependency(
                driver, _DRIVER_EXTRAS.get(driver, "postgres"), "a PostgreSQL store"
            ) from exc
    raise InvalidInput(
        f"store URL {url!r} uses {backend!r}; Steward supports SQLite and PostgreSQL."
    )


def _is_lock_error(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


def run_with_retry(action: Callable[[], T]) -> T:
    """Run ``action``, retrying with backoff while the database is locked."""
    delay = 0.01
    deadline = time.monotonic() + _RETRY_DEADLINE_S
    while True:
        try:
            return action()
        except OperationalError as exc:
            if not _is_lock_error(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a read transaction (one consistent snapshot)."""
    with engine.connect() as connection, connection.begin():
        yield connection
