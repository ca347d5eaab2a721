"""Blob store in a local folder: ``<root>/<algorithm>/<2 hex>/<62 hex>``.

A blob is written to ``<root>/tmp``, made durable (fsync) and only then
renamed to its final name, so a blob that is visible is always whole. Many
blobs written together (a dataset's chunks) go through ``batch()``, which
defers the fsyncs to one parallel pass before publishing them all: one
fsync wait per batch instead of one per blob.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from steward.blobs.base import BlobRef
from steward.blobs.digest import (
    CHUNK_SIZE,
    DEFAULT_ALGORITHM,
    copy_verified,
    format_digest,
    new_hasher,
    parse_digest,
    verify_digest,
)
from steward.errors import NotFound

_FSYNC_THREADS = 8


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


class LocalBlobStore:
    """Blobs in a local folder, written with temp file + fsync + rename."""

    def __init__(self, root: str | os.PathLike[str], algorithm: str = DEFAULT_ALGORITHM) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        new_hasher(algorithm)  # validates the name early
        self.algorithm = algorithm
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path_of(self, digest: str) -> Path:
        """Where the blob with ``digest`` lives (whether or not it exists)."""
        algorithm, hex_value = parse_digest(digest)
        return self.root / algorithm / hex_value[:2] / hex_value[2:]

    def _publish(self, temp: Path, digest: str) -> None:
        final = self.path_of(digest)
        if final.exists():
            temp.unlink()
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)

    def _write_temp(self, data: bytes | memoryview, sync: bool) -> tuple[str, Path]:
        hasher = new_hasher(self.algorithm)
        hasher.update(data)  # type: ignore[arg-type]  # blake3 and hashlib take any buffer
        digest = format_digest(self.algorithm, hasher.hexdigest())
        if self.path_of(digest).exists():
            return digest, Path()
        temp = self._tmp / uuid.uuid4().hex
        with temp.open("wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        return digest, temp

    def _copy_temp(self, path: str | os.PathLike[str], sync: bool) -> tuple[str, int, Path]:
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"cannot store {source}: no such file.")
        hasher = new_hasher(self.algorithm)
        temp = self._tmp / uuid.uuid4().hex
        size = 0
        try:
            with source.open("rb") as reader, temp.open("wb") as writer:
                while chunk := reader.read(CHUNK_SIZE):
                    hasher.update(chunk)
                    writer.write(chunk)
                    size += len(chunk)
                if sync:
                    writer.flush()
                    os.fsync(writer.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return format_digest(self.algorithm, hasher.hexdigest()), size, temp

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Store ``data`` and return its reference (a no-op if already stored)."""
        digest, temp = self._write_temp(data, sync=True)
        if temp != Path():
            self._publish(temp, digest)
        return BlobRef(digest, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Copy a local file into the store while hashing it (one pass)."""
        digest, size, temp = self._copy_temp(path, sync=True)
        try:
            self._publish(temp, digest)
        finally:
            temp.unlink(missing_ok=True)
        return BlobRef(digest, size)

    @contextmanager
    def batch(self) -> Iterator[LocalBlobBatch]:
        """Write many blobs, published together (durably) when the block ends.

        Blobs put through the batch become visible when the block exits. Blobs
        finished before an exception are published too (they are whole, and
        an interrupted add or transfer then resumes from them); a blob is
        never visible before it is durable.
        """
        batch = LocalBlobBatch(self)
        try:
            yield batch
        finally:
            batch.commit()

    def _stored_path(self, digest: str) -> Path:
        path = self.path_of(digest)
        if not path.is_file():
            raise NotFound(f"blob {digest} is not in the blob store at {self.url}.")
        return path

    def get_bytes(self, digest: str) -> bytes:
        """Return the verified content of a blob."""
        algorithm, _ = parse_digest(digest)
        data = self._stored_path(digest).read_bytes()
        hasher = new_hasher(algorithm)
        hasher.update(data)
        verify_digest(digest, hasher.hexdigest(), self.url)
        return data

    def get_file(self, digest: str, destination: str | os.PathLike[str]) -> Path:
        """Copy a blob to ``destination``, verified, appearing only when whole."""
        with self._stored_path(digest).open("rb") as reader:
            return copy_verified(reader, destination, digest, self.url)

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return self.path_of(digest).is_file()

    def missing(self, digests: list[str]) -> list[str]:
        """The subset of ``digests`` that is not stored, in input order."""
        return [digest for digest in digests if not self.exists(digest)]

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""
        return self._stored_path(digest).stat().st_size

    def clear_temporary(self) -> None:
        """Remove leftovers of interrupted writes."""
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True, exist_ok=True)


class LocalBlobBatch:
    """Blobs written without waiting for the disk, made durable and published together.

    Thread-safe: a dataset's chunks are put from a pool of threads.
    """

    def __init__(self, store: LocalBlobStore) -> None:
        self.store = store
        self.algorithm = store.algorithm
        self._pending: dict[str, Path] = {}
        self._lock = threading.Lock()

    def _keep(self, digest: str, temp: Path) -> None:
        if temp == Path():
            return
        with self._lock:
            duplicate = digest in self._pending
            if not duplicate:
                self._pending[digest] = temp
        if duplicate:
            temp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Write ``data``; it becomes visible when the batch commits."""
        digest, temp = self.store._write_temp(data, sync=False)
        self._keep(digest, temp)
        return BlobRef(digest, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Copy a local file; it becomes visible when the batch commits."""
        digest, size, temp = self.store._copy_temp(path, sync=False)
        if self.store.exists(digest):
            temp.unlink(missing_ok=True)
        else:
            self._keep(digest, temp)
        return BlobRef(digest, size)

    def commit(self) -> None:
        """fsync every pending blob (in parallel), then publish them."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        with ThreadPoolExecutor(max_workers=_FSYNC_THREADS) as pool:
            list(pool.map(_fsync, pending.values()))
        for digest, temp in pending.items():
            self.store._publish(temp, digest)
