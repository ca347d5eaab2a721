"""Opening a metadata store: engine set-up, write transactions, retries.

SQLite runs in WAL mode with foreign keys on and a busy timeout; write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the lock
instead of dead-locking on a read-to-write upgrade. A write that still meets
"database is locked" is retried with exponential backoff, so concurrent
processes never see that error.

Any other failure of the database itself (a damaged or unreadable file, a
full or read-only disk, a server that cannot be reached) is raised as a
one-line ``StorageError`` naming the store, never with the SQL that met it.
Constraint violations and bugs (bad SQL) pass through unchanged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from steward.errors import InvalidInput, MissingDependency, StorageError, StorageFull

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


_SQLITE_ADVICE = (
    (
        ("not a database", "malformed", "corrupt"),
        "it is damaged or not a Steward store: "
        "restore it from a backup, or move it away to start a new one",
    ),
    (
        ("unable to open",),
        "check that it and its folder exist and can be read and written by this user",
    ),
    (
        ("readonly", "read-only"),
        "check the permissions of the file and its folder (SQLite "
        "also writes -wal and -shm files beside it)",
    ),
    (("disk i/o",), "the disk reported an error: check it (is it full or failing?)"),
)
_FULL = ("database or disk is full", "no space left", "disk full", "quota")


def _describe_failure(url: str, dialect: str, error: BaseException) -> StorageError | None:
    """The Steward error for a failure of the database itself, or None to let it through."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    lowered = text.lower()
    if _is_lock_text(lowered):
        return None
    where = f"the metadata store {url}"
    if any(words in lowered for words in _FULL):
        return StorageFull(
            f"{where} cannot be written: {text}. Free some space and try again; nothing "
            "stored before was changed."
        )
    if dialect == "sqlite":
        for words, advice in _SQLITE_ADVICE:
            if any(word in lowered for word in words):
                return StorageError(f"{where} cannot be used ({text}): {advice}.")
        return StorageError(f"{where} failed: {text}.")
    return StorageError(
        f"{where} cannot be used: {text}. Check that the server is running and that the "
        "URL, user and password are right."
    )


def _translate_errors(engine: Engine, url: str) -> None:
    """Raise database failures (not constraint violations or bugs) as ``StorageError``,
    and values the database cannot hold (a number past its column's range, on
    PostgreSQL) as ``InvalidInput``: the caller's to fix, not the store's."""
    from sqlalchemy.exc import DatabaseError, DataError, IntegrityError, ProgrammingError

    dialect = engine.dialect.name

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        error = context.sqlalchemy_exception
        if context.is_pre_ping:  # a stale pooled connection: the pool reconnects
            return
        if not isinstance(error, DatabaseError) or isinstance(
            error, IntegrityError | ProgrammingError
        ):
            return
        if isinstance(error, DataError):
            first_line = str(context.original_exception).strip().splitlines()[0][:200]
            raise InvalidInput(f"a value does not fit the store: {first_line}.") from None
        translated = _describe_failure(url, dialect, context.original_exception)
        if translated is not None:
            raise translated from None


_SQLITE_FILE = "sqlite:///"


def _parse_url(url: str) -> URL:
    """``make_url(url)``; a plain SQLite file URL (the default store's) is read without
    compiling SQLAlchemy's URL pattern, a regular expression each process paid once."""
    path = url[len(_SQLITE_FILE) :] if url.startswith(_SQLITE_FILE) else ""
    if path and not any(char in path for char in "?%#"):
        return URL.create("sqlite", database=path)
    return make_url(url)


def create_store_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine for a store URL.

    Raises:
        InvalidInput: the URL is malformed or names an unsupported database.
        MissingDependency: the database driver is not installed.
    """
    try:
        parsed = _parse_url(url)
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
        _translate_errors(engine, parsed.database or url)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=4, max_overflow=4)
        except ImportError as exc:
            driver = parsed.get_driver_name()
            raise MissingDependency(
                driver, _DRIVER_EXTRAS.get(driver, "postgres"), "a PostgreSQL store"
            ) from exc
        _translate_errors(engine, parsed.render_as_string(hide_password=True))
        return engine
    raise InvalidInput(
        f"store URL {url!r} uses {backend!r}; Steward supports SQLite and PostgreSQL."
    )


def _is_lock_text(text: str) -> bool:
    return "locked" in text or "busy" in text or "deadlock" in text


def _is_lock_error(exc: OperationalError) -> bool:
    return _is_lock_text(str(exc.orig).lower())


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
