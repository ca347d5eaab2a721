"""Registering dataset versions made elsewhere: numbers, authors and times are kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from steward.errors import Conflict
from steward.store.datasets import NewDatasetVersion
from steward.store.metadata import MetadataStore

MADE = datetime(2024, 3, 1, 8, 30, 15, 123000, tzinfo=UTC)


def _content(digest: str) -> NewDatasetVersion:
    return NewDatasetVersion(digest, "blake3:profile", 100, 2, 10, 3)


def test_import_keeps_number_author_time_and_tags(store_url: str) -> None:
    datasets = MetadataStore(store_url).datasets
    assert datasets.check_import("d", "files", 3, "blake3:aa") is None
    record, created = datasets.import_version(
        "d",
        "files",
        3,
        _content("blake3:aa"),
        "field-site",
        MADE,
        "puller",
        "March intake",
        {"site": "b"},
    )
    assert created
    assert (record.name, record.version, record.digest) == ("d", 3, "blake3:aa")
    assert (record.created_by, record.created_at) == ("field-site", MADE)
    assert (record.description, record.tags, record.row_count) == (
        "March intake",
        {"site": "b"},
        10,
    )
    assert datasets.get_dataset("d").kind == "files"
    again, created_again = datasets.import_version(
        "d", "files", 3, _content("blake3:aa"), "someone", datetime.now(UTC), "puller"
    )
    assert not created_again and again == record
    assert datasets.check_import("d", "files", 3, "blake3:aa") == record
    # a local add after an import takes the next number
    added, _ = datasets.create_version("d", "files", _content("blake3:bb"), "tester")
    assert added.version == 4


def test_import_refuses_what_would_contradict_the_store(store_url: str) -> None:
    datasets = MetadataStore(store_url).datasets
    datasets.create_version("d", "files", _content("blake3:aa"), "tester")
    with pytest.raises(
        Conflict, match=r"d:1 here has digest blake3:aa, not blake3:bb.*STEWARD_HOME"
    ):
        datasets.import_version("d", "files", 1, _content("blake3:bb"), "x", MADE, "puller")
    with pytest.raises(Conflict, match=r"as d:1, so it cannot also be d:2; use d:1"):
        datasets.check_import("d", "files", 2, "blake3:aa")
    with pytest.raises(Conflict, match="holds files, not table"):
        datasets.import_version("d", "table", 2, _content("blake3:cc"), "x", MADE, "puller")
    assert [v.digest for v in datasets.list_versions("d")] == ["blake3:aa"]
