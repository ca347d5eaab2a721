"""The blob store seam: immutable bytes addressed by their digest, and named refs.

Beside the content-addressed blobs a store keeps refs: small named documents
(a version record, say) that can be replaced. A ref's key is a relative,
``/``-separated path; each write replaces the whole document atomically.

Collecting garbage (``steward.data.gc``) deletes blobs nothing refers to and
that were neither written nor reused for a grace period. So that a blob an
add in progress reuses is not collected before the add records it, every
write that finds its blob already stored marks it as used now (its
modification time; see ``FRESHEN_AFTER``), and ``delete_unused`` looks at
that time again as it deletes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from steward.errors import InvalidInput

_REF_SEGMENT = re.compile(r"[A-Za-z0-9._%~@+=-]+")


def check_ref_key(key: str, *, prefix: bool = False) -> str:
    """Validate a ref key (or, with ``prefix``, the start of one) and return it.

    A key is ``/``-separated segments of letters, digits and ``. _ - % ~ @ + =``;
    no empty, ``.`` or ``..`` segment, so it can never leave the refs folder. A
    prefix may be empty or end with ``/``.

    Raises:
        InvalidInput: the key is malformed.
    """
    body = key.removesuffix("/") if prefix else key
    if prefix and not body:
        return key
    segments = body.split("/")
    if any(segment in (".", "..") or not _REF_SEGMENT.fullmatch(segment) for segment in segments):
        raise InvalidInput(
            f"ref key {key!r} is invalid: use '/'-separated segments of letters, digits and "
            ". _ - % ~ @ + = (no empty, '.' or '..' segment, no leading '/')."
        )
    return key


FRESHEN_AFTER = 60.0
"""Seconds after which a write that finds its blob stored marks it as used again.

A blob used less than this long ago keeps its time, so a collection's grace
period must be longer than this plus the longest add or transfer."""


@dataclass(frozen=True)
class BlobRef:
    """A stored blob: its digest and size in bytes."""

    digest: str
    size: int


@dataclass(frozen=True)
class StoredBlob:
    """A blob as a listing of the store finds it."""

    digest: str
    size: int
    used_at: float
    """When it was last written or reused (seconds since the epoch, the store's clock)."""


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
    the stored bytes no longer match. Refs, kept apart from the blobs, are
    small named documents that a write replaces whole.
    """

    url: str
    algorithm: str

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Store ``data`` and return its reference (a no-op if already stored)."""

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Store the content of a local file and return its reference."""

    def put_copy(self, source: BlobStore, digest: str) -> BlobRef:
        """Copy blob ``digest`` from another store, verifying it in the same pass."""

    def batch(self, sync_early: bool = False) -> AbstractContextManager[BlobWriter]:
        """A writer for many blobs that become visible together when the block ends.

        ``sync_early``: start making each blob durable as soon as it is written (for a
        batch kept open while its writer does other work); a store whose writes are
        durable when they return ignores it.
        """

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

    def missing(self, digests: list[str], touch: bool = False) -> list[str]:
        """The subset of ``digests`` that is not stored, in input order.

        With ``touch``, the ones present are marked as used now (see the
        module): a caller that will refer to them without writing them (a
        pull) keeps them from a collection running meanwhile.
        """

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""

    def list_blobs(self) -> Iterator[StoredBlob]:
        """Every blob stored, in no particular order."""

    def delete_unused(self, digest: str, unused_since: float) -> int | None:
        """Delete a blob unless it was written or reused at or after ``unused_since``.

        The time is looked at again as the blob goes, so a write that reuses
        it meanwhile either keeps it or (finding it gone) stores it again.

        Returns:
            The bytes freed, or None when the blob was kept or was not there.
        """

    def remove_temporary(self, before: float) -> tuple[int, int]:
        """Remove the leftovers of writes interrupted before ``before``: (files, bytes)."""

    def damage_epoch(self) -> int:
        """A number that changes whenever the store sets a damaged blob aside.

        Caches that vouch for stored blobs (a dataset's change index) are void
        once it changed: a blob they name may have gone.
        """

    def put_ref(self, key: str, data: bytes, exclusive: bool = False) -> None:
        """Write the ref ``key`` (see ``check_ref_key``), replacing it atomically if present.

        With ``exclusive``, only create it: a ref already there is left alone.

        Raises:
            Conflict: ``exclusive`` and the ref exists.
        """

    def get_ref(self, key: str) -> bytes:
        """Return the content of ref ``key``.

        Raises:
            NotFound: no such ref.
        """

    def list_refs(self, prefix: str = "") -> list[str]:
        """The keys of every ref that starts with ``prefix``, sorted."""
