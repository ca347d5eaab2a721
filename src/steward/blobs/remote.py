"""Blob store on any fsspec filesystem (``s3://bucket/prefix``, ``gs://…``, …).

Object stores publish a PUT atomically (the object appears only once whole),
so blobs are written straight to their final key. Other filesystems get a
temporary name and a rename, as the local store does. Refs live under
``<prefix>/refs/<key>`` and are written the same way (one PUT replaces one).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from steward.blobs.base import BlobRef, BlobStore, check_ref_key
from steward.blobs.digest import (
    DEFAULT_ALGORITHM,
    check_bytes,
    copy_verified,
    digest_bytes,
    digest_file,
    new_hasher,
    parse_digest,
)
from steward.errors import Conflict, NotFound

_OBJECT_STORE_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "az", "abfs", "memory"}
_EXTRA_FOR_PROTOCOL = {"s3": "s3", "s3a": "s3"}
_CONDITIONAL_PUT_PROTOCOLS = {"s3", "s3a"}
"""Backends whose PUT can be made conditional on the key being absent."""


class FsspecBlobStore:
    """Blobs under a prefix of an fsspec filesystem."""

    def __init__(
        self,
        url: str,
        algorithm: str = DEFAULT_ALGORITHM,
        storage_options: dict[str, Any] | None = None,
        create: bool = True,
    ) -> None:
        """Open the store under ``url``.

        Args:
            url: e.g. ``s3://bucket/prefix``.
            algorithm: digest algorithm for new blobs.
            storage_options: fsspec options (credentials, ``endpoint_url``…).
            create: whether the prefix may be empty (new); otherwise a prefix
                holding nothing is ``NotFound``.

        Raises:
            NotFound: ``create`` is False and nothing is stored under ``url``.
        """
        import fsspec

        from steward.errors import MissingDependency

        protocol = url.split("://", 1)[0]
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        except ImportError as exc:
            extra = _EXTRA_FOR_PROTOCOL.get(protocol, "all")
            raise MissingDependency(protocol + "fs", extra, f"the blob store {url}") from exc
        new_hasher(algorithm)
        self.url = url
        self.algorithm = algorithm
        self.root = root.rstrip("/")
        self._atomic_put = protocol in _OBJECT_STORE_PROTOCOLS
        self._conditional_put = protocol in _CONDITIONAL_PUT_PROTOCOLS
        if not create and not self.fs.exists(self.root):
            raise NotFound(
                f"there is no blob store at {url}: nothing is stored there. Check the address."
            )

    def key_of(self, digest: str) -> str:
        """The object key of the blob with ``digest``."""
        algorithm, hex_value = parse_digest(digest)
        return f"{self.root}/{algorithm}/{hex_value[:2]}/{hex_value[2:]}"

    def _write(self, key: str, upload: Any) -> None:
        if self._atomic_put:
            upload(key)
            return
        temp = f"{self.root}/tmp/{uuid.uuid4().hex}"
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
        upload(temp)
        self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
        self.fs.mv(temp, key)

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Store ``data`` and return its reference (a no-op if already stored)."""
        data = bytes(data)
        digest = digest_bytes(data, self.algorithm)
        if not self.exists(digest):
            self._write(self.key_of(digest), lambda key: self.fs.pipe_file(key, data))
        return BlobRef(digest, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Hash a local file, then upload it unless already stored."""
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"cannot store {source}: no such file.")
        digest, size = digest_file(str(source), self.algorithm)
        if not self.exists(digest):
            self._write(self.key_of(digest), lambda key: self.fs.put_file(str(source), key))
        return BlobRef(digest, size)

    def put_copy(self, source: BlobStore, digest: str) -> BlobRef:
        """Copy blob ``digest`` from ``source``, verified before it is uploaded.

        The blob is held in memory: dataset blobs are bounded by chunking.
        """
        with source.open_unverified(digest) as reader:
            data = reader.read()
        check_bytes(data, digest, source.url)
        if not self.exists(digest):
            self._write(self.key_of(digest), lambda key: self.fs.pipe_file(key, data))
        return BlobRef(digest, len(data))

    @contextmanager
    def batch(self) -> Iterator[FsspecBlobStore]:
        """Object stores publish each PUT atomically, so a batch is the store itself."""
        yield self

    def get_bytes(self, digest: str) -> bytes:
        """Return the verified content of a blob."""
        try:
            data: bytes = self.fs.cat_file(self.key_of(digest))
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is not in the blob store at {self.url}.") from exc
        check_bytes(data, digest, self.url)
        return data

    def open_unverified(self, digest: str) -> BinaryIO:
        """A stream of the blob's stored bytes, unchecked: the reader verifies them."""
        try:
            reader: BinaryIO = self.fs.open(self.key_of(digest), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is not in the blob store at {self.url}.") from exc
        return reader

    def get_file(self, digest: str, destination: str | os.PathLike[str]) -> Path:
        """Download a blob to ``destination``, verified, appearing only when whole."""
        with self.open_unverified(digest) as reader:
            return copy_verified(reader, destination, digest, self.url)

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return bool(self.fs.exists(self.key_of(digest)))

    def missing(self, digests: list[str]) -> list[str]:
        """The subset of ``digests`` that is not stored, in input order."""
        if len(digests) < 4:
            return [digest for digest in digests if not self.exists(digest)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            present = list(pool.map(self.exists, digests))
        return [digest for digest, here in zip(digests, present, strict=True) if not here]

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""
        try:
            return int(self.fs.size(self.key_of(digest)))
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is not in the blob store at {self.url}.") from exc

    # -- refs -----------------------------------------------------------------------

    def _ref_key(self, key: str) -> str:
        return f"{self.root}/refs/{check_ref_key(key)}"

    def put_ref(self, key: str, data: bytes, exclusive: bool = False) -> None:
        """Write ref ``key`` with one PUT (or temp + rename), replacing the old one.

        With ``exclusive``, S3 is asked to write only if the key is absent
        (``If-None-Match: *``), atomically; other backends check first, which
        is not atomic.

        Raises:
            Conflict: ``exclusive`` and the ref exists.
        """
        path = self._ref_key(key)
        exists = Conflict(f"ref {key!r} already exists in {self.url}.")
        if exclusive and self._conditional_put:
            try:
                self.fs.pipe_file(path, data, IfNoneMatch="*")
            except FileExistsError as exc:
                raise exists from exc
            return
        if exclusive and self.fs.exists(path):
            raise exists
        self._write(path, lambda target: self.fs.pipe_file(target, data))

    def get_ref(self, key: str) -> bytes:
        """Return the content of ref ``key``.

        Raises:
            NotFound: no such ref.
        """
        try:
            data: bytes = self.fs.cat_file(self._ref_key(key))
        except FileNotFoundError as exc:
            raise NotFound(f"no ref {key!r} in the blob store at {self.url}.") from exc
        return data

    def damage_epoch(self) -> int:
        """Always 0: this store never sets blobs aside (it only refuses them)."""
        return 0

    def list_refs(self, prefix: str = "") -> list[str]:
        """The keys of every ref that starts with ``prefix``, sorted."""
        refs = f"{self.root}/refs/"
        folder = refs + check_ref_key(prefix, prefix=True).rpartition("/")[0]
        self.fs.invalidate_cache(folder)  # another writer may have added refs since
        keys = [path.removeprefix(refs) for path in self.fs.find(folder)]
        return sorted(key for key in keys if key.startswith(prefix))
