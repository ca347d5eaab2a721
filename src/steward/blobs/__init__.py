"""Content-addressed, immutable blob storage (local folder or any fsspec URL)."""

from __future__ import annotations

from typing import Any

from steward.blobs.base import BlobRef, BlobStore, BlobWriter
from steward.blobs.digest import DEFAULT_ALGORITHM, digest_bytes, parse_digest


def open_blob_store(
    url: str,
    algorithm: str = DEFAULT_ALGORITHM,
    storage_options: dict[str, Any] | None = None,
    create: bool = True,
) -> BlobStore:
    """Open the blob store at ``url``: a local path or an fsspec URL.

    Args:
        url: ``/some/folder``, ``file:///some/folder`` or e.g. ``s3://bucket/prefix``.
        algorithm: digest algorithm for new blobs (``blake3`` or ``sha256``).
        storage_options: passed to fsspec (credentials, ``endpoint_url``…).
        create: a store that does not exist yet is made (a folder) or will be
            (an object store's prefix); otherwise it is ``NotFound``.

    Raises:
        NotFound: ``create`` is False and there is nothing at ``url``.
    """
    if "://" not in url or url.startswith("file://"):
        from steward.blobs.local import LocalBlobStore

        return LocalBlobStore(url.removeprefix("file://"), algorithm, create)
    from steward.blobs.remote import FsspecBlobStore

    return FsspecBlobStore(url, algorithm, storage_options, create)


__all__ = [
    "DEFAULT_ALGORITHM",
    "BlobRef",
    "BlobStore",
    "BlobWriter",
    "digest_bytes",
    "open_blob_store",
    "parse_digest",
]
