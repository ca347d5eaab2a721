"""Storing file bytes as blobs, splitting large files by content-defined chunking.

Files up to ``CHUNK_THRESHOLD`` are one blob each. Larger files are cut by
FastCDC (``pyfastcdc``, compiled) into chunks of about ``AVERAGE_CHUNK``
bytes whose boundaries depend on the content, not on offsets, so appending
rows or editing a small part of a file changes only the chunks around the
change: the rest are already stored and are neither written nor sent again.
A chunked file's digest is the digest of its list of chunk digests.

Blob digests are blake3 (cryptographic, so they serve as identity, and fast
enough to double as the change detector). Work runs on a thread pool the
size of the machine: blake3 and file I/O release the GIL, so both cores hash.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, TypeVar

from steward.blobs import BlobWriter
from steward.blobs.digest import digest_bytes, format_digest, new_hasher, parse_digest
from steward.data.manifest import FileEntry
from steward.errors import InvalidInput, NotFound
from steward.paths import ListedFile

CHUNK_THRESHOLD = 8 << 20
AVERAGE_CHUNK = 1 << 20
MIN_CHUNK = 256 << 10
MAX_CHUNK = 4 << 20
FILES_PER_TASK = 64
"""Small files handled per thread-pool task: one hand-off costs more than a small file."""

T = TypeVar("T")

Progress = Callable[[int], None]
"""Called with a number of bytes just processed."""


def worker_count() -> int:
    """Threads for hashing and transfer: at least 2, as many as the machine has cores."""
    return max(2, os.cpu_count() or 2)


def in_groups(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive groups of ``size`` (the last may be shorter)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def _chunker() -> Any:
    try:
        from pyfastcdc import FastCDC
    except ImportError as exc:  # pragma: no cover - a core dependency
        from steward.errors import MissingDependency

        raise MissingDependency("pyfastcdc", "all", "chunking large dataset files") from exc
    return FastCDC(avg_size=AVERAGE_CHUNK, min_size=MIN_CHUNK, max_size=MAX_CHUNK)


def chunk_list_digest(algorithm: str, chunks: Iterable[tuple[str, int]]) -> str:
    """The digest of a chunked file: the digest of its ordered chunk list."""
    hasher = new_hasher(algorithm)
    hasher.update(b"steward-chunks-v1\n")
    for digest, size in chunks:
        hasher.update(f"{digest} {size}\n".encode())
    return format_digest(algorithm, hasher.hexdigest())


class ChunkWriter:
    """Stores files and buffers in a blob store, chunking the large ones."""

    def __init__(self, blobs: BlobWriter, progress: Progress | None = None) -> None:
        self.blobs = blobs
        self.progress = progress or (lambda _bytes: None)
        self._pool = ThreadPoolExecutor(max_workers=worker_count(), thread_name_prefix="steward")

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _put_chunk(self, data: Any) -> tuple[str, int]:
        ref = self.blobs.put_bytes(data)
        self.progress(ref.size)
        return ref.digest, ref.size

    def _store_chunks(self, path: str, chunks: Iterable[Any]) -> FileEntry:
        # ``map`` submits each chunk as the chunker yields it, so cutting the next
        # chunk (the chunker releases the GIL) overlaps hashing and writing this one.
        results = list(self._pool.map(lambda chunk: self._put_chunk(chunk.data), chunks))
        size = sum(size for _, size in results)
        digest = chunk_list_digest(self.blobs.algorithm, results)
        return FileEntry(path, size, digest, tuple(results))

    def store_buffer(self, relpath: str, data: bytes) -> FileEntry:
        """Store an in-memory file (e.g. a table written as Parquet)."""
        if len(data) <= CHUNK_THRESHOLD:
            digest, size = self._put_chunk(data)
            return FileEntry(relpath, size, digest)
        return self._store_chunks(relpath, _chunker().cut_buf(data))

    def _has_chunks(self, path: str, like: FileEntry) -> bool:
        """Whether the file at ``path`` still holds ``like``'s chunks.

        The chunks are hashed where they were cut, in parallel, stopping at
        the first that differs: much cheaper than cutting the file afresh.
        """
        chunks = like.chunks or ()
        offsets = itertools.accumulate((size for _, size in chunks), initial=0)
        fd = os.open(path, os.O_RDONLY)

        algorithm, _ = parse_digest(like.digest)

        def same(digest: str, size: int, offset: int) -> bool:
            return digest_bytes(os.pread(fd, size, offset), algorithm) == digest

        futures = [
            self._pool.submit(same, digest, size, offset)
            for (digest, size), offset in zip(chunks, offsets, strict=False)
        ]
        try:
            return all(future.result() for future in futures)
        finally:
            for future in futures:
                future.cancel()
            wait(futures)
            os.close(fd)

    def store_file(
        self, relpath: str, path: str, size: int, like: FileEntry | None = None
    ) -> FileEntry:
        """Store one local file of ``size`` bytes (as last seen).

        Args:
            relpath: its path in the dataset.
            path: where it is.
            size: its size when listed.
            like: the entry last stored for this file, if it had the same size
                (the file is first checked against its chunks).

        Raises:
            InvalidInput: the file cannot be read (names it).
        """
        try:
            if size <= CHUNK_THRESHOLD:
                ref = self.blobs.put_file(path)
                self.progress(ref.size)
                return FileEntry(relpath, ref.size, ref.digest)
            if like is not None and like.chunks and self._has_chunks(path, like):
                self.progress(size)
                return FileEntry(relpath, like.size, like.digest, like.chunks)
            return self._store_chunks(relpath, _chunker().cut_file(path))
        except PermissionError as exc:
            raise InvalidInput(f"cannot read {path}: permission denied ({exc.strerror}).") from exc
        except (IsADirectoryError, FileNotFoundError, NotFound) as exc:
            raise InvalidInput(f"cannot read {path}: it vanished while being added.") from exc

    def _store_small_files(self, files: Sequence[ListedFile]) -> list[FileEntry]:
        return [self.store_file(file.relpath, file.path, file.stat.st_size) for file in files]

    def store_files(
        self, files: Sequence[ListedFile], like: Mapping[str, FileEntry] | None = None
    ) -> list[FileEntry]:
        """Store many files, in input order: small ones in parallel (a group of
        them per task, so that thread hand-offs do not dominate), large ones one
        at a time with their chunks in parallel.

        Args:
            files: the files.
            like: by relative path, the entries last stored for files of the
                same size (see ``store_file``).
        """
        like = like or {}
        small = [file for file in files if file.stat.st_size <= CHUNK_THRESHOLD]
        entries = {
            entry.path: entry
            for group in self._pool.map(self._store_small_files, in_groups(small, FILES_PER_TASK))
            for entry in group
        }
        for file in files:
            if file.stat.st_size > CHUNK_THRESHOLD:
                entries[file.relpath] = self.store_file(
                    file.relpath, file.path, file.stat.st_size, like.get(file.relpath)
                )
        return [entries[file.relpath] for file in files]
