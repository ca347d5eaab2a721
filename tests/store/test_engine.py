"""Store URLs: the default SQLite file's is read as SQLAlchemy reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from steward.errors import InvalidInput
from steward.store.engine import _parse_url, create_store_engine


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////tmp/a b/steward.db",
        "sqlite:///relative/steward.db",
        "sqlite:///C:\\stores\\steward.db",
        "sqlite:///with%20escape.db",
        "sqlite:///steward.db?mode=ro",
        "sqlite://",
        "sqlite+pysqlite:///steward.db",
        "postgresql+psycopg://user:secret@localhost:5432/steward",
    ],
)
def test_a_store_url_is_read_as_sqlalchemy_reads_it(url: str) -> None:
    assert _parse_url(url) == make_url(url)


def test_a_sqlite_file_with_spaces_in_its_path_opens(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'a folder' / 'steward.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("select 1")).scalar() == 1
    assert (tmp_path / "a folder" / "steward.db").is_file()
    engine.dispose()


def test_a_malformed_url_is_refused() -> None:
    with pytest.raises(InvalidInput, match="malformed"):
        create_store_engine("not a url")
