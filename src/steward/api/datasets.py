"""Datasets over HTTP: versions, aliases, imports from remotes, lineage.

Dataset names may hold ``/``, so a name in a path is always its last part.
The blobs a version names (manifest, profile, files) travel through the blob
routes first, as ``steward.data`` already writes them before the record.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.blobs.digest import parse_digest
from steward.errors import InvalidInput
from steward.store.datasets import MANIFEST_KINDS, DatasetStore, NewDatasetVersion


def _check_new(arguments: dict[str, Any]) -> None:
    if arguments["kind"] not in MANIFEST_KINDS:
        raise InvalidInput(f"a dataset's kind is one of {MANIFEST_KINDS}.")
    new: NewDatasetVersion = arguments["new"]
    parse_digest(new.digest)
    if new.profile_digest is not None:
        parse_digest(new.profile_digest)
    counts = (new.size, new.file_count, new.row_count or 0, new.column_count or 0)
    if min(counts) < 0:
        raise InvalidInput("sizes and counts of a dataset version cannot be negative.")


def _check_import(arguments: dict[str, Any]) -> None:
    _check_new(arguments)
    if arguments["number"] < 1:
        raise InvalidInput("version numbers start at 1.")


_datasets = partial(Endpoint, "datasets")
_read, _write = Role.VIEWER, Role.EDITOR

DATASETS = Repository(
    "datasets",
    (
        _datasets(DatasetStore.list_datasets, "GET", "/datasets", _read),
        _datasets(DatasetStore.get_dataset, "GET", "/datasets/{name:path}", _read),
        _datasets(DatasetStore.list_versions, "GET", "/dataset-versions/{name:path}", _read),
        _datasets(DatasetStore.get_version, "GET", "/dataset-version/{name:path}", _read),
        _datasets(DatasetStore.find_by_digest, "GET", "/dataset-digests/{name:path}", _read),
        _datasets(
            DatasetStore.create_version, "POST", "/dataset-versions", _write, _check_new, 201
        ),
        _datasets(DatasetStore.check_import, "POST", "/dataset-imports/check", _read),
        _datasets(
            DatasetStore.import_version, "POST", "/dataset-imports", _write, _check_import, 201
        ),
        _datasets(DatasetStore.set_alias, "PUT", "/dataset-aliases", _write),
        _datasets(
            DatasetStore.update_version_metadata, "PATCH", "/dataset-version-metadata", _write
        ),
        _datasets(DatasetStore.record_lineage, "POST", "/lineage", _write),
        _datasets(DatasetStore.lineage_of_version, "GET", "/lineage/versions/{version_id}", _read),
        _datasets(DatasetStore.lineage_of_run, "GET", "/lineage/runs/{run_id}", _read),
    ),
)
