"""Reading a stored file back: whole blobs or chunk by chunk, always verified."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from steward.blobs import BlobStore
from steward.blobs.files import temp_beside
from steward.blobs.local import LocalBlobStore
from steward.data.chunking import chunk_list_digest, worker_count
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


def _write_chunks(blobs: BlobStore, entry: FileEntry, fd: int) -> None:
    """Write a chunked file's verified chunks at their offsets, several at a time."""
    chunks = entry.chunks or ()
    offsets = itertools.accumulate((size for _, size in chunks), initial=0)

    def write(digest: str, offset: int) -> None:
        view = memoryview(blobs.get_bytes(digest))
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written

    with ThreadPoolExecutor(max_workers=worker_count()) as pool:
        list(pool.map(write, (digest for digest, _ in chunks), offsets))


def materialise(blobs: BlobStore, entry: FileEntry, target: str, link: bool = False) -> int:
    """Write the verified file to ``target`` (appearing only when whole); return its size.

    Args:
        blobs: the store holding the file's blobs.
        entry: the file.
        target: where to write it; its folder must exist.
        link: hard-link the file to its blob instead of copying it, where the
            store can (a local store, a file that is one blob).
    """
    if entry.chunks is None:
        if link and isinstance(blobs, LocalBlobStore):
            blobs.link_file(entry.digest, target)
        else:
            blobs.get_file(entry.digest, target)
        return entry.size
    check_chunk_list(blobs, entry)
    temp = temp_beside(target)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            _write_chunks(blobs, entry, fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return entry.size
