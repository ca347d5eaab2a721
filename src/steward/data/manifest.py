"""A dataset version's manifest: relative path → digest and size of every file.

The manifest is canonical JSON (sorted keys and paths, no spaces), stored as
a blob; its digest is the identity of the version's content, so adding the
same content twice finds the same manifest. A file larger than the chunking
threshold lists the digests of its content-defined chunks, each a blob, and
its own digest is the digest of that list (see ``steward.data.chunking``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from steward.blobs.digest import parse_digest
from steward.errors import IntegrityError, InvalidInput, StewardError
from steward.paths import check_relative_path
from steward.store.datasets import MANIFEST_KINDS

MANIFEST_FORMAT = 1
TABULAR_SUFFIXES = (".csv", ".parquet", ".pq")


def is_tabular(path: str) -> bool:
    """Whether Steward reads the file at ``path`` as a table (CSV or Parquet)."""
    return path.lower().endswith(TABULAR_SUFFIXES)


def _check_size(path: str, size: object) -> None:
    if type(size) is not int or size < 0:
        raise InvalidInput(f"the size {size!r:.40} of {path!r} is not a byte count")


@dataclass(frozen=True)
class FileEntry:
    """One file of a version: where it goes, its digest, size and chunks."""

    path: str
    size: int
    digest: str
    chunks: tuple[tuple[str, int], ...] | None = None

    @property
    def blobs(self) -> tuple[tuple[str, int], ...]:
        """The blobs that hold this file's bytes: (digest, size) of each."""
        if self.chunks is None:
            return ((self.digest, self.size),)
        return self.chunks

    @property
    def blob_digests(self) -> list[str]:
        """The blobs that hold this file's bytes."""
        return [digest for digest, _ in self.blobs]

    @property
    def is_tabular(self) -> bool:
        """Whether Steward reads this file as a table (CSV or Parquet)."""
        return is_tabular(self.path)

    def check(self) -> None:
        """Raise unless the path stays in its folder and the digests and sizes are well formed.

        Raises:
            InvalidInput: names what is wrong.
        """
        check_relative_path(self.path, "manifest path")
        _check_size(self.path, self.size)
        parse_digest(self.digest)
        if self.chunks is None:
            return
        for chunk_digest, chunk_size in self.chunks:
            parse_digest(chunk_digest)
            _check_size(self.path, chunk_size)
        if sum(size for _, size in self.chunks) != self.size:
            raise InvalidInput(f"the chunk sizes of {self.path!r} do not add up to its size")

    def to_json(self) -> dict[str, object]:
        """The entry as plain JSON data."""
        data: dict[str, object] = {"path": self.path, "size": self.size, "digest": self.digest}
        if self.chunks is not None:
            data["chunks"] = [list(chunk) for chunk in self.chunks]
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FileEntry:
        """Read an entry written by ``to_json``."""
        chunks = data.get("chunks")
        return cls(
            path=data["path"],  # type: ignore[arg-type]  # checked by ``check``
            size=data["size"],  # type: ignore[arg-type]
            digest=data["digest"],  # type: ignore[arg-type]
            chunks=None if chunks is None else tuple((d, s) for d, s in chunks),  # type: ignore[attr-defined]
        )


@dataclass(frozen=True)
class Manifest:
    """The files of one dataset version, sorted by path."""

    kind: str
    files: tuple[FileEntry, ...]

    @classmethod
    def build(cls, kind: str, entries: list[FileEntry]) -> Manifest:
        """A manifest of ``entries`` in canonical (path) order."""
        return cls(kind, tuple(sorted(entries, key=lambda entry: entry.path)))

    @property
    def size(self) -> int:
        """Total bytes of all files."""
        return sum(entry.size for entry in self.files)

    def __iter__(self) -> Iterator[FileEntry]:
        return iter(self.files)

    def by_path(self) -> dict[str, FileEntry]:
        """The entries keyed by relative path."""
        return {entry.path: entry for entry in self.files}

    def blob_digests(self) -> list[str]:
        """Every distinct blob the files need, in manifest order."""
        return list(self.blob_sizes())

    def blob_sizes(self) -> dict[str, int]:
        """Every distinct blob the files need, with its size in bytes, in manifest order."""
        sizes: dict[str, int] = {}
        for entry in self.files:
            for digest, size in entry.blobs:
                sizes.setdefault(digest, size)
        return sizes

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes: equal manifests give equal bytes."""
        data = {
            "format": MANIFEST_FORMAT,
            "kind": self.kind,
            "files": [entry.to_json() for entry in self.files],
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, digest: str = "?") -> Manifest:
        """Parse manifest bytes, checking every path, digest and size in them.

        A manifest may come from a remote, which is not trusted: a path that
        would leave the version's folder (``..``, absolute, a backslash, NUL,
        an empty or ``.`` segment), a path listed twice or both as a file and
        as a folder, or a malformed digest or size is refused here, before
        anything is written or registered.

        Raises:
            IntegrityError: the bytes are not a manifest this Steward can read
                (names the manifest and what is wrong).
        """
        try:
            parsed = json.loads(data)
            if parsed.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"unknown manifest format {parsed.get('format')!r}")
            manifest = cls(
                kind=str(parsed["kind"]),
                files=tuple(FileEntry.from_json(item) for item in parsed["files"]),
            )
            manifest.check()
        except (ValueError, KeyError, TypeError, AttributeError, StewardError) as exc:
            raise IntegrityError(
                f"manifest blob {digest} is not a readable manifest: {exc}"
            ) from exc
        return manifest

    def check(self) -> None:
        """Raise unless every entry is well formed and each path names one file.

        Raises:
            InvalidInput: names the first entry that is not.
        """
        if self.kind not in MANIFEST_KINDS:
            raise InvalidInput(f"unknown kind {self.kind!r}")
        paths: set[str] = set()
        for entry in self.files:
            entry.check()
            if entry.path in paths:
                raise InvalidInput(f"manifest path {entry.path!r} is listed twice")
            paths.add(entry.path)
        for path in paths:
            folder = path.rpartition("/")[0]
            while folder:
                if folder in paths:
                    raise InvalidInput(f"manifest path {folder!r} is both a file and a folder")
                folder = folder.rpartition("/")[0]
