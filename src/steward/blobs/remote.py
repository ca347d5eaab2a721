"""Blob store on any fsspec filesystem (``s3://bucket/prefix``, ``gs://…``, …).

Object stores publish a PUT atomically (the object appears only once whole),
so blobs are written straight to their final key. Other filesystems get a
temporary name and a rename, as the local store does. Refs live under
``<prefix>/refs/<key>`` and are written the same way (one PUT replaces one).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from steward.blobs.base import FRESHEN_AFTER, BlobRef, BlobStore, StoredBlob, check_ref_key
from steward.blobs.digest import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    check_bytes,
    copy_verified,
    digest_bytes,
    digest_local_file,
    is_digest,
    new_hasher,
    parse_digest,
)
from steward.errors import Conflict, NotFound


def _used_at(info: dict[str, Any]) -> float:
    """When an object was last written (seconds since the epoch; now if the backend is silent)."""
    value = info.get("LastModified", info.get("mtime", info.get("created")))
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return time.time()


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
        if not self._reuse(digest):
            self._write(self.key_of(digest), lambda key: self.fs.pipe_file(key, data))
        return BlobRef(digest, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Hash a local file, then upload it unless already stored."""
        source, digest, size = digest_local_file(path, self.algorithm)
        if not self._reuse(digest):
            self._write(self.key_of(digest), lambda key: self.fs.put_file(str(source), key))
        return BlobRef(digest, size)

    def put_copy(self, source: BlobStore, digest: str) -> BlobRef:
        """Copy blob ``digest`` from ``source``, verified before it is uploaded.

        The blob is held in memory: dataset blobs are bounded by chunking.
        """
        with source.open_unverified(digest) as reader:
            data = reader.read()
        check_bytes(data, digest, source.url)
        if not self._reuse(digest):
            self._write(self.key_of(digest), lambda key: self.fs.pipe_file(key, data))
        return BlobRef(digest, len(data))

    @contextmanager
    def batch(self, sync_early: bool = False) -> Iterator[FsspecBlobStore]:
        """Object stores publish each PUT atomically, so a batch is the store itself
        (and each blob is durable once written: ``sync_early`` changes nothing)."""
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

    def _reuse(self, digest: str) -> bool:
        """Whether the blob is stored, marking it as used now if it was not lately.

        On S3 the object is copied onto itself (new metadata, a new
        modification time, no data sent). False when it cannot be marked:
        it is then written again, which marks it too.
        """
        key = self.key_of(digest)
        try:
            info = self.fs.info(key)
        except FileNotFoundError:
            return False
        if time.time() - _used_at(info) <= FRESHEN_AFTER:
            return True
        if not self._conditional_put:  # not S3: rewriting is the way to mark it
            return False
        bucket, path, _ = self.fs.split_path(key)
        try:
            self.fs.call_s3(
                "copy_object",
                Bucket=bucket,
                Key=path,
                CopySource={"Bucket": bucket, "Key": path},
                MetadataDirective="REPLACE",
                Metadata={"steward-used": str(int(time.time()))},
            )
        except (OSError, ValueError):  # collected meanwhile (s3fs maps NoSuchKey to OSError)
            return False
        return True

    def missing(self, digests: list[str], touch: bool = False) -> list[str]:
        """The subset of ``digests`` that is not stored, in input order.

        With ``touch``, the present ones are marked as used now (see
        ``steward.blobs.base``).
        """
        present_now = self._reuse if touch else self.exists
        if len(digests) < 4:
            return [digest for digest in digests if not present_now(digest)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            present = list(pool.map(present_now, digests))
        return [digest for digest, here in zip(digests, present, strict=True) if not here]

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""
        try:
            return int(self.fs.size(self.key_of(digest)))
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is not in the blob store at {self.url}.") from exc

    # -- collecting ----------------------------------------------------------------

    def list_blobs(self) -> Iterator[StoredBlob]:
        """Every blob stored (``<algorithm>/<2 hex>/<62 hex>``), with its size and time."""
        self.fs.invalidate_cache(self.root)
        for algorithm in ALGORITHMS:
            prefix = f"{self.root}/{algorithm}/"
            found: dict[str, dict[str, Any]] = self.fs.find(prefix, detail=True)
            for path, info in found.items():
                folder, _, name = path.removeprefix(prefix).partition("/")
                digest = f"{algorithm}:{folder}{name}"
                if len(folder) == 2 and is_digest(digest):
                    yield StoredBlob(digest, int(info["size"]), _used_at(info))

    def delete_unused(self, digest: str, unused_since: float) -> int | None:
        """Delete a blob unless it was written or reused at or after ``unused_since``.

        Its time is read again just before the delete; a reuse in the
        moment between the two is not seen (object stores have no delete
        conditional on the time).
        """
        key = self.key_of(digest)
        self.fs.invalidate_cache(key)
        try:
            info = self.fs.info(key)
        except FileNotFoundError:
            return None
        if _used_at(info) >= unused_since:
            return None
        self.fs.rm_file(key)
        return int(info["size"])

    def remove_temporary(self, before: float) -> tuple[int, int]:
        """Remove the temp files of interrupted writes (backends that rename) before ``before``."""
        folder = f"{self.root}/tmp/"
        self.fs.invalidate_cache(folder)
        files = size = 0
        for path, info in self.fs.find(folder, detail=True).items():
            if _used_at(info) < before:
                self.fs.rm_file(path)
                files += 1
                size += int(info["size"])
        return files, size

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
