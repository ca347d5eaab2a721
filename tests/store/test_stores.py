"""The metadata store opens, migrates and refuses what it must, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from steward.errors import InvalidInput, SchemaTooNew
from steward.store.metadata import MetadataStore
from steward.store.migrate import KNOWN_REVISIONS, MIGRATIONS_DIR, current_revision
from steward.store.schema import SCHEMA_HEAD, metadata


def test_schema_head_is_the_alembic_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD
    assert KNOWN_REVISIONS[-1] == SCHEMA_HEAD


def test_open_creates_every_table(store_url: str) -> None:
    store = MetadataStore(store_url)
    try:
        with store.engine.connect() as connection:
            assert current_revision(connection) == SCHEMA_HEAD
            tables = set(inspect(connection).get_table_names())
        assert set(metadata.tables) <= tables
    finally:
        store.close()


def test_migrations_match_the_schema(store_url: str) -> None:
    """Autogenerate finds nothing to do: migrations and schema.py agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = MetadataStore(store_url)
    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            assert compare_metadata(context, metadata) == []
    finally:
        store.close()


def test_store_from_a_newer_steward_is_refused_and_unchanged(store_url: str) -> None:
    store = MetadataStore(store_url)
    experiment = store.tracking.create_experiment("kept", "tester")
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(SchemaTooNew, match="newer Steward"):
        MetadataStore(store_url)
    from steward.store.engine import create_store_engine

    engine = create_store_engine(store_url)
    with engine.connect() as connection:
        assert current_revision(connection) == "9999"
        names = connection.execute(text("SELECT name FROM experiments")).scalars().all()
    engine.dispose()
    assert names == [experiment.name]


def test_sqlite_store_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 's.db'}")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://user@host/db", "oracle://x"],
)
def test_unsupported_store_urls_get_a_clear_error(url: str) -> None:
    with pytest.raises(InvalidInput, match="store URL"):
        MetadataStore(url)


def test_keyed_values_read_only_their_own_tables(workspace: Any) -> None:
    """The page reader puts a table name into SQL text: only its three tables pass."""
    from steward.store import tracking_sql

    with workspace.store.engine.connect() as connection:
        assert list(tracking_sql.keyed_values(connection, "params", [1, 2])) == []
        with pytest.raises(ValueError, match="not a table"):
            tracking_sql.keyed_values(connection, "users; DROP TABLE runs", [1])
