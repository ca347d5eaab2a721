"""Blob store in a local folder: ``<root>/<algorithm>/<2 hex>/<62 hex>``."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from steward.blobs.base import BlobRef
from steward.blobs.digest import (
    CHUNK_SIZE,
    DEFAULT_ALGORITHM,
    format_digest,
    new_hasher,
    parse_digest,
    verify_digest,
)
from steward.errors import NotFound


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

    def put_bytes(self, data: bytes) -> BlobRef:
        """Store ``data`` and return its reference (a no-op if already stored)."""
        hasher = new_hasher(self.algorithm)
        hasher.update(data)
        digest = format_digest(self.algorithm, hasher.hexdigest())
        if not self.path_of(digest).exists():
            temp = self._tmp / uuid.uuid4().hex
            with temp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self._publish(temp, digest)
        return BlobRef(digest, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Copy a local file into the store while hashing it (one pass)."""
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
                writer.flush()
                os.fsync(writer.fileno())
            digest = format_digest(self.algorithm, hasher.hexdigest())
            self._publish(temp, digest)
        finally:
            temp.unlink(missing_ok=True)
        return BlobRef(digest, size)

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
        algorithm, _ = parse_digest(digest)
        source = self._stored_path(digest)
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        hasher = new_hasher(algorithm)
        try:
            with source.open("rb") as reader, temp.open("wb") as writer:
                while chunk := reader.read(CHUNK_SIZE):
                    hasher.update(chunk)
                    writer.write(chunk)
            verify_digest(digest, hasher.hexdigest(), self.url)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        return target

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
