"""The local change index: skip hashing files whose size and mtime did not change.

Like DVC's state database, a re-add looks each file up by absolute path and
reuses the recorded entry when size, modification and change times (ns) and
inode are unchanged, so re-adding a large folder after a 1% change hashes
about 1% of it. One level up, ``SourceListings`` remembers the manifest digest each
source (a file, folder or glob) had when last added, under a fingerprint of
its listing: a re-add that finds every path, size, time and inode as they
were knows its manifest without building it or looking up a single file.

Both are caches, JSON files per blob store under ``<home>/cache/``: losing
them costs only time. They trust that blobs they recorded are still in that
(immutable, append-only) blob store, until the store sets a damaged blob
aside: then its ``damage_epoch`` changes, and so do the caches' file names,
so that the next add stores that blob again.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from steward.blobs import BlobStore
from steward.blobs.digest import digest_bytes
from steward.data.manifest import FileEntry
from steward.paths import ListedFile


def _cache_file(home: Path, kind: str, blobs: BlobStore) -> Path:
    """The cache file of ``kind`` for ``blobs``: another once the store set a blob aside."""
    identity = f"{blobs.url}\0{blobs.damage_epoch()}"
    key = digest_bytes(identity.encode()).split(":", 1)[1][:16]
    return home / "cache" / f"{kind}-{key}.json"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically (best effort: the caches here may be lost)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        temp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(temp, path)
    except OSError:
        pass


class ChangeIndex:
    """Recorded (size, mtime, ctime, inode) → stored digest (and chunks) of stored files.

    Each entry is a flat list ``[size, mtime_ns, ctime_ns, inode, digest,
    chunks]``: a re-add of 20,000 unchanged files builds one ``FileEntry`` per
    file and nothing else. The change time catches a file whose size and
    modification time were put back (``touch -d``, ``cp -p``).
    """

    def __init__(self, home: Path, blobs: BlobStore) -> None:
        self.path = _cache_file(home, "data-index-v3", blobs)
        self._entries: dict[str, list[Any]] = _read_json(self.path)
        self._dirty = False

    @staticmethod
    def _entry(relpath: str, known: list[Any]) -> FileEntry:
        chunks = known[5]
        return FileEntry(
            relpath,
            known[0],
            known[4],
            None if chunks is None else tuple((digest, size) for digest, size in chunks),
        )

    def lookup(self, relpath: str, path: str, stat: os.stat_result) -> FileEntry | None:
        """The stored entry for ``path`` (renamed to ``relpath``) if it is unchanged."""
        known = self._entries.get(path)
        if (
            known is None
            or known[0] != stat.st_size
            or known[1] != stat.st_mtime_ns
            or known[2] != stat.st_ctime_ns
            or known[3] != stat.st_ino
        ):
            return None
        return self._entry(relpath, known)

    def same_size(self, relpath: str, path: str, stat: os.stat_result) -> FileEntry | None:
        """The entry last recorded for ``path`` if only its time or inode changed.

        Its content may be the same (a file copied or rewritten unchanged):
        worth checking against the entry's chunks before chunking it afresh.
        """
        known = self._entries.get(path)
        if known is None or known[0] != stat.st_size:
            return None
        return self._entry(relpath, known)

    def record(self, path: str, stat: os.stat_result, entry: FileEntry) -> None:
        """Remember ``entry`` for ``path`` as it was at ``stat``."""
        chunks = None if entry.chunks is None else [list(chunk) for chunk in entry.chunks]
        self._entries[path] = [
            stat.st_size,
            stat.st_mtime_ns,
            stat.st_ctime_ns,
            stat.st_ino,
            entry.digest,
            chunks,
        ]
        self._dirty = True

    def save(self) -> None:
        """Write the index atomically (best effort: it is only a cache)."""
        if self._dirty:
            _write_json(self.path, self._entries)
            self._dirty = False


def listing_fingerprint(files: Sequence[ListedFile]) -> str:
    """A digest of each file's relative path, size, times (ns), inode and device."""
    text = "\n".join(
        f"{file.relpath}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}"
        f"\0{stat.st_ino}\0{stat.st_dev}"
        for file in files
        for stat in (file.stat,)
    )
    return digest_bytes(text.encode("utf-8", "surrogateescape"))


class SourceListings:
    """The manifest digest each source had when last added, under its listing's fingerprint.

    Keyed by the source as given, made absolute (a folder, a file or a glob).
    One small JSON file, so a re-add of an unchanged folder reads neither the
    change index nor any file.
    """

    KEEP = 256
    """Sources remembered; the least recently added are forgotten first."""

    def __init__(self, home: Path, blobs: BlobStore) -> None:
        self.path = _cache_file(home, "data-listings-v2", blobs)
        self._listings: dict[str, list[str]] = _read_json(self.path)

    def manifest_digest(self, source: str, fingerprint: str) -> str | None:
        """The manifest digest ``source`` had when its listing had ``fingerprint``."""
        known = self._listings.get(source)
        if known is None or known[0] != fingerprint:
            return None
        return known[1]

    def record(self, source: str, fingerprint: str, manifest_digest: str) -> None:
        """Remember ``source``'s manifest digest for this listing, and save."""
        self._listings.pop(source, None)
        self._listings[source] = [fingerprint, manifest_digest]
        while len(self._listings) > self.KEEP:
            del self._listings[next(iter(self._listings))]
        _write_json(self.path, self._listings)
