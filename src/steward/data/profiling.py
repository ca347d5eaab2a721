"""The profiles of a new version's tables, each computed no more than needed.

A table whose bytes the previous version of the dataset already had keeps
that version's profile. A CSV file that only grew by appended rows (its first
bytes are the previous version's whole file, which ended on a row boundary)
gets the previous profile merged with the profile of the new rows: the
profile a full pass would give (profiles merge exactly, except that top
values beyond ``TOP_VALUES_KEPT`` are approximate either way), for the cost
of reading the new rows. Any other table is profiled in full.

Profiling is CPU-bound and storing files mostly waits on the disk, so the
tables that surely changed (their size differs from the previous version's)
are profiled in the background while the files are stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.blobs import BlobWriter
from steward.blobs.digest import digest_bytes, parse_digest
from steward.data.manifest import FileEntry, Manifest, is_tabular
from steward.data.profile import (
    TableProfile,
    profile_csv,
    profile_csv_appended,
    profile_parquet,
    profile_table,
)
from steward.errors import InvalidInput, NotFound
from steward.paths import ListedFile

if TYPE_CHECKING:
    from steward.workspace import Workspace

PROFILE_FORMAT = 1


def read_profiles(data: bytes, manifest: Manifest | None = None) -> dict[str, TableProfile]:
    """The profiles in a version's profile blob, by relative path.

    Args:
        data: the blob's bytes.
        manifest: the version's manifest, to check the blob against: one
            profile per tabular file, recorded with that file's digest.

    Raises:
        ValueError: (or KeyError, TypeError) the blob is not a profile blob of
            this Steward, or does not match ``manifest``.
    """
    parsed = json.loads(data)
    if parsed["format"] != PROFILE_FORMAT:
        raise ValueError(f"unknown profile format {parsed['format']!r}")
    tables = parsed["tables"]
    if manifest is not None:
        digests = {entry.path: entry.digest for entry in manifest if entry.is_tabular}
        recorded = {path: item["digest"] for path, item in tables.items()}
        if recorded != digests:
            raise ValueError("its tables are not the tabular files of the manifest")
    return {path: TableProfile.from_json(item["profile"]) for path, item in tables.items()}


def _starts_with(path: str, before: FileEntry) -> bool:
    """Whether the file at ``path`` begins with the bytes of ``before``, ending in a newline."""
    algorithm, _ = parse_digest(before.digest)
    pieces = before.chunks or ((before.digest, before.size),)
    data = b""
    with open(path, "rb") as handle:
        for digest, size in pieces:
            data = handle.read(size)
            if len(data) != size or digest_bytes(data, algorithm) != digest:
                return False
    return data.endswith(b"\n")


class TableProfiler:
    """Profiles the tables of one new version of dataset ``name``."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self._workspace = workspace
        self._name = name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="steward-profile")
        self._started: dict[str, Future[TableProfile]] = {}

    def __enter__(self) -> TableProfiler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    @cached_property
    def _previous(self) -> tuple[dict[str, dict[str, Any]], dict[str, FileEntry]]:
        """The previous version's profiles by file digest, and its files by path."""
        datasets, blobs = self._workspace.store.datasets, self._workspace.blobs
        try:
            latest = datasets.get_version(self._name)
        except NotFound:
            return {}, {}
        if latest.profile_digest is None:
            return {}, {}
        data = json.loads(blobs.get_bytes(latest.profile_digest))
        profiles = {item["digest"]: item["profile"] for item in data["tables"].values()}
        manifest = Manifest.from_bytes(blobs.get_bytes(latest.digest), latest.digest)
        return profiles, manifest.by_path()

    def start(self, files: Sequence[ListedFile]) -> None:
        """Start profiling the tables among ``files`` that surely changed, in the background.

        A table as large as in the previous version may be unchanged: it is
        profiled (if at all) once its digest is known.
        """
        for file in files:
            if not is_tabular(file.relpath):
                continue
            before = self._previous[1].get(file.relpath)
            if before is None or before.size != file.stat.st_size:
                self._started[file.relpath] = self._pool.submit(
                    self._profile_file, file.relpath, file.path
                )

    def _extended(self, relpath: str, path: str) -> TableProfile | None:
        """The previous profile plus the rows appended since, if that is all that changed."""
        profiles, files = self._previous
        before = files.get(relpath)
        if before is None or before.digest not in profiles or not _starts_with(path, before):
            return None
        like = TableProfile.from_json(profiles[before.digest])
        appended = profile_csv_appended(Path(path), before.size, like)
        return None if appended is None else like.merge(appended)

    def _profile_file(self, relpath: str, path: str) -> TableProfile:
        if relpath.lower().endswith(".csv"):
            return self._extended(relpath, path) or profile_csv(Path(path), display_name=path)
        try:
            return profile_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a bad Parquet file
            raise InvalidInput(f"{path} is not a readable Parquet file: {exc}") from exc

    def _profile(self, entry: FileEntry, local: str | None, table: Any) -> TableProfile:
        if table is not None:
            return profile_table(table)
        profiles, _ = self._previous
        if entry.digest in profiles:
            return TableProfile.from_json(profiles[entry.digest])
        started = self._started.pop(entry.path, None)
        if started is not None:
            return started.result()
        assert local is not None
        return self._profile_file(entry.path, local)

    def store(
        self, manifest: Manifest, locals_: Mapping[str, str], table: Any, sink: BlobWriter
    ) -> tuple[str | None, int | None, int | None]:
        """Profile the version's tables and store the profiles as one blob.

        Args:
            manifest: the version's files.
            locals_: where each file is on disk, by relative path.
            table: the in-memory table the version was added from, if any.
            sink: where to store the profile blob (a batch of the workspace's store).

        Returns:
            The profile blob's digest, the total rows and the widest column
            count (all None without tables).
        """
        tabular = [entry for entry in manifest if entry.is_tabular]
        if not tabular:
            return None, None, None
        tables: dict[str, dict[str, Any]] = {}
        profiles: list[TableProfile] = []
        for entry in tabular:
            profile = self._profile(entry, locals_.get(entry.path), table)
            profiles.append(profile)
            tables[entry.path] = {"digest": entry.digest, "profile": profile.to_json()}
        data = {"format": PROFILE_FORMAT, "tables": tables}
        ref = sink.put_bytes(json.dumps(data, sort_keys=True).encode())
        rows = sum(profile.rows for profile in profiles)
        columns = max(len(profile.columns) for profile in profiles)
        return ref.digest, rows, columns
