"""Reading a stored file back: whole blobs or chunk by chunk, always verified."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Any

from steward.blobs import BlobStore
from steward.data.chunking import chunk_list_digest
from steward.data.manifest import FileEntry
from steward.errors import IntegrityError


class ChunkedReader(io.RawIOBase):
    """A read-only binary stream over a chunked file, fetching one chunk at a time."""

    def __init__(self, blobs: BlobStore, entry: FileEntry) -> None:
        self._blobs = blobs
        self._chunks = list(entry.chunks or ())
        self._next = 0
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            if self._next >= len(self._chunks):
                return 0
            self._buffer = memoryview(self._blobs.get_bytes(self._chunks[self._next][0]))
            self._next += 1
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def check_chunk_list(blobs: BlobStore, entry: FileEntry) -> None:
    """Raise IntegrityError unless a chunked entry's chunk list matches its digest."""
    if entry.chunks is None:
        return
    algorithm = entry.digest.split(":", 1)[0]
    if chunk_list_digest(algorithm, entry.chunks) != entry.digest:
        raise IntegrityError(
            f"the chunk list of {entry.path} does not match its digest {entry.digest}."
        )


def open_entry(blobs: BlobStore, entry: FileEntry) -> io.BufferedReader | io.BytesIO:
    """A binary stream of the file's verified content."""
    if entry.chunks is None:
        return io.BytesIO(blobs.get_bytes(entry.digest))
    check_chunk_list(blobs, entry)
    return io.BufferedReader(ChunkedReader(blobs, entry), buffer_size=1 << 20)


def materialise(blobs: BlobStore, entry: FileEntry, target: Path) -> int:
    """Write the verified file to ``target`` (appearing only when whole); return its size."""
    if entry.chunks is None:
        blobs.get_file(entry.digest, target)
        return entry.size
    check_chunk_list(blobs, entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        with temp.open("wb") as writer:
            for digest, _ in entry.chunks:
                writer.write(blobs.get_bytes(digest))
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return entry.size
