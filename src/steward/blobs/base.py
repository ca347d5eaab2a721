"""The blob store seam: immutable bytes addressed by their digest."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


@dataclass(frozen=True)
class BlobRef:
    """A stored blob: its digest and size in bytes."""

    digest: str
    size: int


class BlobWriter(Protocol):
    """What can take new blobs: a store, or a batch of one."""

    algorithm: str

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Store ``data`` and return its reference."""

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Store a local file's content and return its reference."""

    def put_copy(self, source: BlobStore, digest: str) -> BlobRef:
        """Copy blob ``digest`` from another store, verifying it in the same pass.

        Raises:
            IntegrityError: the source's bytes do not match ``digest`` (names
                the blob and the source); nothing is stored.
        """


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed, immutable, atomically written blobs.

    A blob becomes visible only once it is whole and its digest verified;
    reads verify the digest and raise ``IntegrityError`` naming the blob when
    the stored bytes no longer match.
    """

    url: str
    algorithm: str

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Store ``data`` and return its reference (a no-op if already stored)."""

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Store the content of a local file and return its reference."""

    def put_copy(self, source: BlobStore, digest: str) -> BlobRef:
        """Copy blob ``digest`` from another store, verifying it in the same pass."""

    def batch(self) -> AbstractContextManager[BlobWriter]:
        """A writer for many blobs that become visible together when the block ends."""

    def get_bytes(self, digest: str) -> bytes:
        """Return the verified content of a blob."""

    def open_unverified(self, digest: str) -> BinaryIO:
        """A stream of the blob's stored bytes, not checked: its reader must verify them.

        For copies that hash as they go (``put_copy``); use ``get_bytes`` or
        ``get_file`` otherwise.
        """

    def get_file(self, digest: str, destination: str | os.PathLike[str]) -> Path:
        """Write the verified content of a blob to a local file (atomically)."""

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored."""

    def missing(self, digests: list[str]) -> list[str]:
        """The subset of ``digests`` that is not stored, in input order."""

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""
