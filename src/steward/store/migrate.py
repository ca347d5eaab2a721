"""Bringing a metadata store's schema up to date, safely, on open.

The fast path reads ``alembic_version`` directly and returns when it is
already ``SCHEMA_HEAD``; Alembic is imported only when there is work to do.
A store written by a newer Steward is refused untouched. Concurrent openers
serialise on the write lock (SQLite) or an advisory lock (PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text

from steward.errors import SchemaTooNew
from steward.store.engine import run_with_retry, write_transaction
from steward.store.schema import SCHEMA_HEAD
from steward.store.tracking_sql import Statement

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
KNOWN_REVISIONS = tuple(
    sorted(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
)
_ADVISORY_LOCK_KEY = 0x5757_4152_44  # "STEWARD" in spirit; any fixed bigint works


_VERSION_TABLE = {
    # Where the default schema (PostgreSQL: the search path) has ``alembic_version``.
    "sqlite": Statement(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ),
    "postgresql": Statement("SELECT count(to_regclass('alembic_version'))"),
}
_SELECT_REVISION = Statement("SELECT version_num FROM alembic_version")


def current_revision(connection: Connection) -> str | None:
    """The schema revision recorded in the store, or None for an empty store.

    Plain statements, not SQLAlchemy's inspector: every process that opens a
    store asks, and building the inspector cost it more than the question."""
    if not _VERSION_TABLE[connection.dialect.name].run(connection, ()).scalar():
        return None
    revision = _SELECT_REVISION.run(connection, ()).scalar()
    return None if revision is None else str(revision)


def _check_not_newer(revision: str | None, url: str) -> None:
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise SchemaTooNew(
            f"the metadata store at {url} has schema revision {revision!r}, written by a newer "
            f"Steward (this one knows up to {SCHEMA_HEAD!r}). Upgrade Steward "
            "(pip install -U mlsteward); the store was left unchanged."
        )


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def ensure_schema(engine: Engine) -> None:
    """Migrate the store at ``engine`` to ``SCHEMA_HEAD`` unless it is already there.

    Raises:
        SchemaTooNew: the store was written by a newer Steward; nothing is changed.
    """
    url = engine.url.render_as_string(hide_password=True)
    with engine.connect() as connection:
        revision = current_revision(connection)
    if revision == SCHEMA_HEAD:
        return
    _check_not_newer(revision, url)

    def migrate() -> None:
        with write_transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_KEY})"))
            locked_revision = current_revision(connection)
            _check_not_newer(locked_revision, url)
            if locked_revision != SCHEMA_HEAD:
                _upgrade(connection)

    run_with_retry(migrate)
