"""The local change index: skip hashing files whose size and mtime did not change.

Like DVC's state database, a re-add looks each file up by absolute path and
reuses the recorded entry when size, modification time (ns) and inode are
unchanged, so re-adding a large folder after a 1% change hashes about 1% of
it. The index is a cache, one JSON file per blob store under
``<home>/cache/``: losing it costs only time. It trusts that blobs it
recorded are still in that (immutable, append-only) blob store.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from steward.blobs.digest import digest_bytes
from steward.data.manifest import FileEntry


class ChangeIndex:
    """Recorded (size, mtime, inode) → stored digest (and chunks) for files already stored.

    Each entry is a flat list ``[size, mtime_ns, inode, digest, chunks]``: a
    re-add of 20,000 unchanged files builds one ``FileEntry`` per file and
    nothing else.
    """

    def __init__(self, home: Path, blob_url: str) -> None:
        key = digest_bytes(blob_url.encode()).split(":", 1)[1][:16]
        self.path = home / "cache" / f"data-index-v2-{key}.json"
        self._entries: dict[str, list[Any]] = {}
        self._dirty = False
        try:
            self._entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self._entries = {}

    @staticmethod
    def _entry(relpath: str, known: list[Any]) -> FileEntry:
        chunks = known[4]
        return FileEntry(
            relpath,
            known[0],
            known[3],
            None if chunks is None else tuple((digest, size) for digest, size in chunks),
        )

    def lookup(self, relpath: str, path: str, stat: os.stat_result) -> FileEntry | None:
        """The stored entry for ``path`` (renamed to ``relpath``) if it is unchanged."""
        known = self._entries.get(path)
        if (
            known is None
            or known[0] != stat.st_size
            or known[1] != stat.st_mtime_ns
            or known[2] != stat.st_ino
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
        self._entries[path] = [stat.st_size, stat.st_mtime_ns, stat.st_ino, entry.digest, chunks]
        self._dirty = True

    def save(self) -> None:
        """Write the index atomically (best effort: it is only a cache)."""
        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
            temp.write_text(json.dumps(self._entries, separators=(",", ":")))
            os.replace(temp, self.path)
            self._dirty = False
        except OSError:
            pass
