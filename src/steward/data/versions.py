"""The dataset SDK: add, get, use and look up versions and their lineage.

``add`` stores each file's bytes once in the blob store (chunked when large),
then the profile and the manifest, and only then the version row, in one
transaction: an interrupted add leaves no version behind, only blobs that
the next add reuses.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from steward.blobs.digest import digest_bytes
from steward.data.chunking import FILES_PER_TASK, ChunkWriter, Progress, in_groups, worker_count
from steward.data.index import ChangeIndex, SourceListings, listing_fingerprint
from steward.data.manifest import FileEntry, Manifest
from steward.data.profile import TableProfile, merge_profiles
from steward.data.profiling import TableProfiler, read_profiles
from steward.data.reader import materialise, open_entry
from steward.data.sources import (
    TABLE_FILE_NAME,
    collect_files,
    is_table,
    table_to_parquet,
    to_arrow_table,
)
from steward.errors import Conflict, InvalidInput, NotFound
from steward.paths import ListedFile, clear_for_file, contained, make_folder
from steward.store.datasets import DatasetVersionRecord, LineageEdge, NewDatasetVersion

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from steward.workspace import Workspace

CHECKOUT_LINKS = ("copy", "hardlink")


def _workspace() -> Workspace:
    from steward.workspace import current_workspace

    return current_workspace()


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset: its identity, size and summary numbers."""

    id: str
    name: str
    version: int
    digest: str
    size: int
    file_count: int
    rows: int | None
    columns: int | None
    created_by: str
    created_at: datetime
    description: str | None = None
    profile_digest: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: DatasetVersionRecord) -> DatasetVersion:
        """Wrap a store record."""
        return cls(
            id=record.id,
            name=record.name,
            version=record.version,
            digest=record.digest,
            size=record.size,
            file_count=record.file_count,
            rows=record.row_count,
            columns=record.column_count,
            created_by=record.created_by,
            created_at=record.created_at,
            description=record.description,
            profile_digest=record.profile_digest,
            tags=dict(record.tags),
            aliases=record.aliases,
        )

    @property
    def ref(self) -> str:
        """``name:version``, as the CLI writes it."""
        return f"{self.name}:{self.version}"

    def manifest(self) -> Manifest:
        """The files of this version (verified against the version's digest)."""
        return Manifest.from_bytes(_workspace().blobs.get_bytes(self.digest), self.digest)

    @property
    def files(self) -> list[str]:
        """Relative paths of the files, sorted."""
        return [entry.path for entry in self.manifest()]

    def profiles(self) -> dict[str, TableProfile]:
        """The profile of each tabular file, by relative path."""
        if self.profile_digest is None:
            return {}
        return read_profiles(_workspace().blobs.get_bytes(self.profile_digest))

    def profile(self) -> TableProfile | None:
        """The profile of all tabular files together (None without tables)."""
        profiles = list(self.profiles().values())
        return merge_profiles(profiles) if profiles else None

    def _entry(self, relpath: str) -> FileEntry:
        entry = self.manifest().by_path().get(relpath)
        if entry is None:
            raise NotFound(f"{self.ref} has no file {relpath!r}; its files: {self.files[:10]}.")
        return entry

    def open(self, relpath: str) -> BinaryIO:
        """A binary stream of one file's verified content.

        Raises:
            NotFound: no such file in this version.
            IntegrityError: a blob no longer matches its digest.
        """
        return open_entry(_workspace().blobs, self._entry(relpath))

    def read_table(self, relpath: str) -> pa.Table:
        """One tabular file (CSV or Parquet) as an arrow table."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        entry = self._entry(relpath)
        if not entry.path.lower().endswith(".csv"):
            with self.open(relpath) as stream:
                return pq.read_table(stream)
        try:
            with self.open(relpath) as stream:
                return pacsv.read_csv(stream)
        except pa.ArrowInvalid:
            pass  # perhaps quoted values with newlines in them, read below
        # Read again the slower way that allows values to span lines.
        with self.open(relpath) as stream:
            return pacsv.read_csv(stream, parse_options=pacsv.ParseOptions(newlines_in_values=True))

    def iter_batches(
        self, relpath: str, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """One tabular file's rows, a record batch at a time (bounded memory for a CSV).

        Args:
            relpath: the CSV or Parquet file.
            columns: only these columns (all by default).

        A CSV is read with the column types its profile recorded, so every
        batch has the types ``read_table`` gives.
        """
        import pyarrow.parquet as pq

        from steward.data.profile import column_types, csv_batches

        entry = self._entry(relpath)
        if not entry.path.lower().endswith(".csv"):
            with self.open(relpath) as stream:
                yield from pq.read_table(stream, columns=columns).to_batches()
            return
        profile = self.profiles().get(relpath)
        types = column_types(profile) if profile else None
        with self.open(relpath) as stream:
            yield from csv_batches(stream, types, include_columns=columns)

    def to_arrow(self) -> pa.Table:
        """All tabular files, stacked, as one arrow table.

        Raises:
            InvalidInput: the version holds no CSV or Parquet file.
        """
        import pyarrow as pa

        tables = [self.read_table(entry.path) for entry in self.manifest() if entry.is_tabular]
        if not tables:
            raise InvalidInput(f"{self.ref} has no CSV or Parquet file to read as a table.")
        if len(tables) == 1:
            return tables[0]
        return pa.concat_tables(tables, promote_options="permissive")

    def to_pandas(self) -> pd.DataFrame:
        """All tabular files, stacked, as one pandas DataFrame."""
        return self.to_arrow().to_pandas()

    def checkout(
        self,
        path: str | os.PathLike[str],
        force: bool = False,
        progress: Progress | None = None,
        link: str = "copy",
    ) -> Path:
        """Write this version's files under ``path``, each verified against its digest.

        Args:
            path: the folder to write into (created if missing).
            force: write into a folder that is not empty, replacing files there.
            progress: called with byte counts as files are written.
            link: ``"copy"`` (the default) gives independent files.
                ``"hardlink"`` links each file that is one blob of a local blob
                store to that blob instead: much faster for many files, and no
                extra space, but the files are read-only and share the blob's
                storage (replace them, never write into them: see
                ``LocalBlobStore.link_file``). Other files are copied.

        Raises:
            Conflict: ``path`` is not empty and ``force`` is False.
            InvalidInput: ``link`` is neither ``"copy"`` nor ``"hardlink"``.
            IntegrityError: a blob no longer matches its digest (names it).
        """
        if link not in CHECKOUT_LINKS:
            raise InvalidInput(f"link={link!r} is not one of {CHECKOUT_LINKS}.")
        target = Path(path).expanduser().absolute()
        if target.exists() and not target.is_dir():
            raise Conflict(f"checkout target {target} is a file; choose a folder.")
        if target.is_dir() and any(target.iterdir()) and not force:
            raise Conflict(
                f"checkout target {target} is not empty; choose an empty folder or pass --force "
                "to overwrite files there."
            )
        blobs = _workspace().blobs
        entries = list(self.manifest())  # every path checked as the manifest is read
        target.mkdir(parents=True, exist_ok=True)
        root = str(target)
        # Folders are made one level at a time, replacing (with ``force``) any link
        # in the way: a write below a linked folder would land outside ``root``.
        for folder in sorted({os.path.dirname(entry.path) for entry in entries}):
            make_folder(root, folder, replace=force)
        report = progress or (lambda _bytes: None)
        hardlink = link == "hardlink"

        def write(group: Sequence[FileEntry]) -> None:
            for entry in group:
                destination = contained(root, entry.path)
                if force:
                    clear_for_file(destination)
                report(materialise(blobs, entry, destination, hardlink))

        with ThreadPoolExecutor(max_workers=worker_count()) as pool:
            list(pool.map(write, in_groups(entries, FILES_PER_TASK)))
        return target

    def lineage(self) -> list[LineageEdge]:
        """The runs that read or produced this version, oldest first."""
        return _workspace().store.datasets.lineage_of_version(self.id)


# -- adding ---------------------------------------------------------------------


def _store_files(
    index: ChangeIndex, files: list[ListedFile], writer: ChunkWriter, profiler: TableProfiler
) -> tuple[list[FileEntry], dict[str, str]]:
    """Store the files ``index`` does not know unchanged; record them there (unsaved)."""
    entries: list[FileEntry] = []
    to_store: list[ListedFile] = []
    like: dict[str, FileEntry] = {}
    for file in files:
        known = index.lookup(file.relpath, file.path, file.stat)
        if known is not None:
            entries.append(known)
            continue
        to_store.append(file)
        same_size = index.same_size(file.relpath, file.path, file.stat)
        if same_size is not None:
            like[file.relpath] = same_size
    profiler.start(to_store)
    stored = writer.store_files(to_store, like)
    for file, entry in zip(to_store, stored, strict=True):
        index.record(file.path, file.stat, entry)
    entries.extend(stored)
    return entries, {file.relpath: file.path for file in files}


def _store_version(
    workspace: Workspace,
    name: str,
    description: str | None,
    tags: Mapping[str, Any] | None,
    progress: Progress | None,
    store: Callable[[ChunkWriter, TableProfiler], tuple[list[FileEntry], dict[str, str]]],
    table: pa.Table | None = None,
) -> tuple[DatasetVersionRecord, str, bool]:
    """Store a version's blobs with ``store``, then the version unless one has this content.

    Args:
        store: writes the version's files and returns their entries and, for
            files read from disk, where each is (to profile them from there).
        table: the in-memory table stored, if the version is one.

    Returns:
        The version, its manifest's digest, and whether the version is new.
    """
    kind = "table" if table is not None else "files"
    with TableProfiler(workspace, name) as profiler:
        # One durable publish for all of the version's blobs (see LocalBlobStore.batch).
        with workspace.blobs.batch() as sink, ChunkWriter(sink, progress) as writer:
            entries, locals_ = store(writer, profiler)
        manifest = Manifest.build(kind, entries)
        manifest_bytes = manifest.to_bytes()
        digest = digest_bytes(manifest_bytes, workspace.blobs.algorithm)
        found = workspace.store.datasets.find_by_digest(name, digest)
        created = False
        if found is None:
            with workspace.blobs.batch() as sink:  # the profile and manifest: one durable publish
                profile_digest, rows, columns = profiler.store(manifest, locals_, table, sink)
                sink.put_bytes(manifest_bytes)
            new = NewDatasetVersion(
                digest=digest,
                profile_digest=profile_digest,
                size=manifest.size,
                file_count=len(manifest.files),
                row_count=rows,
                column_count=columns,
            )
            text_tags = {key: str(value) for key, value in (tags or {}).items()}
            found, created = workspace.store.datasets.create_version(
                name, kind, new, workspace.actor, description, text_tags
            )
    return found, digest, created


def _add_files(
    workspace: Workspace,
    name: str,
    source: str | os.PathLike[str],
    description: str | None,
    tags: Mapping[str, Any] | None,
    progress: Progress | None,
    total: Callable[[int], None] | None,
    follow_links: bool,
) -> tuple[DatasetVersionRecord, bool]:
    """Add a file, folder or glob as a version of ``name``: (the version, whether new).

    A source whose every path, size, time and inode are as they were when it
    was last added to this store is that add's version, found without reading
    a file or the change index.
    """
    files = collect_files(source, follow_links)
    if total is not None:
        total(sum(file.stat.st_size for file in files))
    listings = SourceListings(workspace.settings.home, workspace.blobs)
    source_key = os.path.abspath(os.path.expanduser(os.fspath(source)))
    fingerprint = listing_fingerprint(files)
    known = listings.manifest_digest(source_key, fingerprint)
    if known is not None:
        found = workspace.store.datasets.find_by_digest(name, known)
        if found is not None:
            return found, False
    index = ChangeIndex(workspace.settings.home, workspace.blobs)
    found, digest, created = _store_version(
        workspace,
        name,
        description,
        tags,
        progress,
        lambda writer, profiler: _store_files(index, files, writer, profiler),
    )
    # Saved only now that the blobs it names are published: a crash before
    # must not leave an index that vouches for blobs that never arrived.
    index.save()
    listings.record(source_key, fingerprint, digest)
    return found, created


def _record_lineage(workspace: Workspace, version_id: str, direction: str) -> None:
    from steward.tracking.fluent import active_run

    run = active_run()
    if run is not None:
        workspace.store.datasets.record_lineage(run.id, version_id, direction)


def add(
    name: str,
    source: Any,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
    follow_links: bool = False,
) -> DatasetVersion:
    """Add a version of dataset ``name`` from a file, folder, glob or in-memory table.

    Identical content returns the existing version instead of a new one; a
    description or tags given then update that version's (tags are merged), and
    a warning says what changed. Inside a run, the run is recorded as the
    version's producer.

    Args:
        name: the dataset's name (created on first add).
        source: a path to a file or folder, a glob (``data/*.csv``), or a pandas
            or polars DataFrame or pyarrow Table (stored as Parquet).
        description: what this version is.
        tags: string tags of the version.
        progress: called with byte counts as files are hashed and stored.
        total: called once, with the bytes of the files found, before any is read
            (files, folders and globs; like ``push`` and ``pull``'s).
        follow_links: store what links pointing outside the folder given point
            to. Without it such a link is refused (a link pointing inside is
            stored as the content it points to; see ``steward.paths``).

    Returns:
        The version.

    Raises:
        NotFound: the path does not exist or the glob matches nothing.
        InvalidInput: a file cannot be read, a CSV does not parse (names file and
            line), or a link points outside the folder (without ``follow_links``),
            dangles or loops (names it).
        Conflict: ``name`` holds a different kind of dataset.
    """
    from steward.store.validation import check_name

    check_name("dataset", name)
    workspace = _workspace()
    kind = "table" if is_table(source) else "files"
    try:
        existing_kind = workspace.store.datasets.get_dataset(name).kind
    except NotFound:
        existing_kind = kind
    if existing_kind != kind:
        raise Conflict(
            f"dataset {name!r} holds {existing_kind}, not {kind}; "
            "choose another name for this data."
        )
    if kind == "table":
        table = to_arrow_table(source)
        found, _, created = _store_version(
            workspace,
            name,
            description,
            tags,
            progress,
            lambda writer, _: ([writer.store_buffer(TABLE_FILE_NAME, table_to_parquet(table))], {}),
            table,
        )
    else:
        found, created = _add_files(
            workspace, name, source, description, tags, progress, total, follow_links
        )
    if not created:
        found = _refresh_metadata(workspace, found, description, tags)
    latest = None if created else workspace.store.datasets.get_version(name)
    if latest is not None and latest.id != found.id:
        warnings.warn(
            f"this content is version {found.version} of {name!r}, which is returned; the "
            f"latest version is still {latest.version}. Use the returned version, or point an "
            f"alias at it (steward.data.set_alias({name!r}, ALIAS, {found.version})).",
            stacklevel=2,
        )
    _record_lineage(workspace, found.id, "output")
    return DatasetVersion.from_record(found)


def _refresh_metadata(
    workspace: Workspace,
    found: DatasetVersionRecord,
    description: str | None,
    tags: Mapping[str, Any] | None,
) -> DatasetVersionRecord:
    """Apply a re-add's description and tags to the existing version, saying so.

    The content is the version's identity and stays; its description and tags
    are words about it, so the latest words win (as a model version's
    description does). Tags are merged: keys not given are kept.
    """
    changed_tags = {
        key: str(value) for key, value in (tags or {}).items() if found.tags.get(key) != str(value)
    }
    new_description = description if description not in (None, found.description) else None
    if new_description is None and not changed_tags:
        return found
    changes = []
    if new_description is not None:
        changes.append(f"description {found.description!r} became {new_description!r}")
    for key, value in changed_tags.items():
        before = found.tags.get(key)
        changes.append(f"tag {key}={value}" + ("" if before is None else f" (was {before})"))
    updated = workspace.store.datasets.update_version_metadata(
        found.name, found.version, new_description, changed_tags
    )
    warnings.warn(
        f"the content is unchanged: it is version {found.version} of {found.name!r}, whose "
        f"{'; '.join(changes)}. Its files stay as they were.",
        stacklevel=3,
    )
    return updated


# -- finding --------------------------------------------------------------------


def parse_ref(ref: str) -> tuple[str, str | None]:
    """Split ``name:version`` (or ``name:alias``) into its parts; no suffix means latest."""
    if ":" in ref:
        name, _, version = ref.rpartition(":")
        return name, version or None
    return ref, None


def _lookup(name: str, version: int | str | None) -> DatasetVersion:
    return DatasetVersion.from_record(_workspace().store.datasets.get_version(name, version))


def resolve(ref: DatasetVersion | str, version: int | str | None = None) -> DatasetVersion:
    """A version from a DatasetVersion, ``"name"``, ``"name:3"``, ``"name:alias"`` or
    ``"name@alias"`` (as model URIs write aliases)."""
    if isinstance(ref, DatasetVersion):
        return ref
    if version is not None:
        return _lookup(ref, version)
    workspace = _workspace()
    try:
        workspace.store.datasets.get_dataset(ref)
        return _lookup(ref, None)
    except NotFound:
        name, parsed = parse_ref(ref)
        if parsed is None and "@" in ref:
            name, _, parsed = ref.rpartition("@")
        if not parsed or name == ref:
            raise
        return _lookup(name, parsed)


def get(name: str, version: int | str | None = None) -> DatasetVersion:
    """Fetch a version: None or "latest", a number, or an alias.

    Inside a run, the run is recorded as having read the version.

    Raises:
        NotFound: no such dataset, version or alias.
    """
    found = resolve(name, version)
    _record_lineage(_workspace(), found.id, "input")
    return found


def use(version: DatasetVersion | str, run_id: str | None = None) -> DatasetVersion:
    """Record that a run (the active one by default) read ``version``.

    Raises:
        InvalidInput: no run given and none active.
    """
    from steward.tracking.fluent import active_run

    found = resolve(version)
    if run_id is None:
        run = active_run()
        if run is None:
            raise InvalidInput("no active run; call steward.start_run() first or pass run_id.")
        run_id = run.id
    _workspace().store.datasets.record_lineage(run_id, found.id, "input")
    return found


def set_alias(name: str, alias: str, version: int) -> DatasetVersion:
    """Point ``alias`` (e.g. "training") of dataset ``name`` at ``version``."""
    workspace = _workspace()
    workspace.store.datasets.set_alias(name, alias, version, workspace.actor)
    return _lookup(name, version)


def list_datasets() -> list[Any]:
    """All datasets with their version counts."""
    return _workspace().store.datasets.list_datasets()


def log(name: str) -> list[DatasetVersion]:
    """Every version of dataset ``name``, newest first."""
    return [
        DatasetVersion.from_record(record)
        for record in _workspace().store.datasets.list_versions(name)
    ]


def lineage(version: DatasetVersion | str) -> list[LineageEdge]:
    """The runs that read ("input") or produced ("output") a version."""
    return resolve(version).lineage()


def run_lineage(run_id: str) -> list[LineageEdge]:
    """The dataset versions a run read or produced."""
    return _workspace().store.datasets.lineage_of_run(run_id)
