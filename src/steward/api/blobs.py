"""The blob store of a ``steward server``, as a ``BlobStore``.

Uploads stream from the file (never read whole); a file above one chunk
goes through an upload session whose chunks resume where the server says
the upload stands after a dropped connection. Downloads stream into a
temporary file, resume with ``Range`` after a drop, are verified against
their digest, and appear only when whole. The server verifies every upload
too, so neither side trusts the other's bytes.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from steward.api.client import Transport
from steward.blobs.base import BlobRef, BlobStore, StoredBlob, check_ref_key
from steward.blobs.digest import (
    CHUNK_SIZE,
    check_bytes,
    copy_verified,
    digest_bytes,
    digest_local_file,
    parse_digest,
)
from steward.errors import InvalidInput, NotFound, TransferFailed

UPLOAD_CHUNK_BYTES = 8 << 20
"""Bytes per upload-session chunk; files up to this size go in one PUT."""
_ATTEMPTS = 5
_JSON = {"content-type": "application/json"}


def _file_chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        handle.seek(start)
        left = length
        while left > 0 and (chunk := handle.read(min(CHUNK_SIZE, left))):
            left -= len(chunk)
            yield chunk


class _BlobReader(io.RawIOBase):
    """The bytes of one blob from a server, resuming with ``Range`` after a drop."""

    def __init__(self, transport: Transport, path: str) -> None:
        self._transport = transport
        self._path = path
        self._offset = 0
        self._failures = 0
        self._stack: contextlib.ExitStack | None = None
        self._chunks: Iterator[bytes] | None = None
        self._buffer = b""
        self._open()  # a missing blob fails here, at once

    def _open(self) -> None:
        self._close_stream()
        stack = contextlib.ExitStack()
        headers = {"range": f"bytes={self._offset}-"} if self._offset else None
        response = stack.enter_context(self._transport.stream("GET", self._path, headers))
        self._stack, self._chunks = stack, response.iter_bytes(CHUNK_SIZE)

    def _close_stream(self) -> None:
        if self._stack is not None:
            with contextlib.suppress(*self._transport.errors):
                self._stack.close()
        self._stack = self._chunks = None

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                if self._chunks is None:
                    self._open()
                assert self._chunks is not None
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
            except self._transport.errors as exc:
                self._failures += 1
                if self._failures >= _ATTEMPTS:
                    raise TransferFailed(f"downloading {self._path} kept failing: {exc}") from exc
                self._chunks = None
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        self._offset += size
        return size

    def close(self) -> None:
        self._close_stream()
        super().close()


class HttpBlobStore:
    """Blobs and refs kept by a Steward server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.url = f"{transport.base_url}/api/v1/blobs"
        self._algorithm: str | None = None

    @property
    def algorithm(self) -> str:
        """The digest algorithm the server's store names blobs with (asked once)."""
        if self._algorithm is None:
            self._algorithm = str(self._info()["algorithm"])
        return self._algorithm

    @algorithm.setter
    def algorithm(self, value: str) -> None:
        self._algorithm = value

    def _info(self) -> dict[str, Any]:
        result: dict[str, Any] = self.transport.request("GET", "/blob-store").json()
        return result

    # -- writing -----------------------------------------------------------------------

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Store ``data`` (verified by the server) and return its reference."""
        digest = digest_bytes(data, self.algorithm)
        if len(data) > UPLOAD_CHUNK_BYTES:
            with tempfile.NamedTemporaryFile() as spool:
                spool.write(data)
                spool.flush()
                return self._upload(Path(spool.name), digest, len(data))
        path = f"/blobs/{quote(digest, safe='')}"
        self.transport.request("PUT", path, content=bytes(data))
        return BlobRef(digest, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Store a local file's content, streamed, unless the server has it already."""
        source, digest, size = digest_local_file(path, self.algorithm)
        if not self.missing([digest], touch=True):  # stored: marked used (see gc)
            return BlobRef(digest, size)
        return self._upload(source, digest, size)

    def _upload(self, source: Path, digest: str, size: int) -> BlobRef:
        if size <= UPLOAD_CHUNK_BYTES:
            self.transport.request(
                "PUT", f"/blobs/{quote(digest, safe='')}", content=_file_chunks(source, 0, size)
            )
            return BlobRef(digest, size)
        upload = self.transport.request("POST", "/blob-uploads").json()["upload_id"]
        session = f"/blob-uploads/{upload}"
        offset, failures = 0, 0
        while offset < size:
            length = min(UPLOAD_CHUNK_BYTES, size - offset)
            try:
                answer = self.transport.request(
                    "PATCH",
                    session,
                    content=_file_chunks(source, offset, length),
                    headers={"upload-offset": str(offset)},
                )
                offset = int(answer.json()["offset"])
            except TransferFailed:
                failures += 1
                if failures >= _ATTEMPTS:
                    raise
                offset = int(self.transport.request("GET", session).json()["offset"])
        self.transport.request("PUT", session, params={"digest": digest})
        return BlobRef(digest, size)

    def put_copy(self, source: BlobStore, digest: str) -> BlobRef:
        """Copy blob ``digest`` from another store, verified locally before upload."""
        with tempfile.TemporaryDirectory() as folder:
            staged = Path(folder) / "blob"
            with source.open_unverified(digest) as reader:
                copy_verified(reader, staged, digest, source.url)
            if not self.missing([digest], touch=True):
                return BlobRef(digest, staged.stat().st_size)
            return self._upload(staged, digest, staged.stat().st_size)

    @contextlib.contextmanager
    def batch(self, sync_early: bool = False) -> Iterator[HttpBlobStore]:
        """Each upload is published whole by the server, so a batch is the store itself
        (and each blob is durable once uploaded: ``sync_early`` changes nothing)."""
        yield self

    # -- reading -----------------------------------------------------------------------

    def get_bytes(self, digest: str) -> bytes:
        """Return the verified content of a blob."""
        parse_digest(digest)
        data: bytes = self.transport.request("GET", f"/blobs/{quote(digest, safe='')}").content
        check_bytes(data, digest, self.url)
        return data

    def open_unverified(self, digest: str) -> BinaryIO:
        """A stream of the blob's bytes from the server (resuming after drops); its
        reader must verify them."""
        parse_digest(digest)
        reader = _BlobReader(self.transport, f"/blobs/{quote(digest, safe='')}")
        return io.BufferedReader(reader, CHUNK_SIZE)

    def get_file(self, digest: str, destination: str | os.PathLike[str]) -> Path:
        """Download a blob to ``destination``: streamed, resumed after drops, verified,
        appearing only when whole."""
        with self.open_unverified(digest) as reader:
            return copy_verified(reader, destination, digest, self.url)

    def exists(self, digest: str) -> bool:
        """Whether the server stores the blob."""
        try:
            self.size(digest)
        except NotFound:
            return False
        return True

    def missing(self, digests: list[str], touch: bool = False) -> list[str]:
        """The subset of ``digests`` the server does not store, in input order.

        With ``touch``, the server marks the present ones as used now (see
        ``steward.blobs.base``): an add through the server keeps what it reuses.
        """
        import orjson

        body = orjson.dumps({"digests": digests, "touch": touch})
        result: list[str] = self.transport.request(
            "POST", "/blobs/missing", content=body, headers=_JSON
        ).json()
        return result

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""
        parse_digest(digest)
        response = self.transport.request("HEAD", f"/blobs/{quote(digest, safe='')}")
        return int(response.headers["content-length"])

    def damage_epoch(self) -> int:
        """The server store's damage epoch (see ``BlobStore.damage_epoch``)."""
        return int(self._info()["damage_epoch"])

    # -- collecting: only where the stores are ---------------------------------------------

    def _collected_on_the_server(self) -> InvalidInput:
        return InvalidInput(
            f"blobs of the server {self.transport.base_url} are collected on the server: run "
            "`steward data gc` on its host, with its STEWARD_HOME."
        )

    def list_blobs(self) -> Iterator[StoredBlob]:
        """Not over HTTP: see ``_collected_on_the_server``."""
        raise self._collected_on_the_server()

    def delete_unused(self, digest: str, unused_since: float) -> int | None:
        """Not over HTTP: see ``_collected_on_the_server``."""
        raise self._collected_on_the_server()

    def remove_temporary(self, before: float) -> tuple[int, int]:
        """Not over HTTP: see ``_collected_on_the_server``."""
        raise self._collected_on_the_server()

    # -- refs --------------------------------------------------------------------------

    @staticmethod
    def _ref_path(key: str) -> str:
        return "/refs/" + "/".join(quote(segment, safe="") for segment in key.split("/"))

    def put_ref(self, key: str, data: bytes, exclusive: bool = False) -> None:
        """Write ref ``key`` on the server (only if absent with ``exclusive``)."""
        params = {"exclusive": "true"} if exclusive else None
        self.transport.request(
            "PUT", self._ref_path(check_ref_key(key)), content=data, params=params
        )

    def get_ref(self, key: str) -> bytes:
        """Return the content of ref ``key``."""
        content: bytes = self.transport.request("GET", self._ref_path(check_ref_key(key))).content
        return content

    def list_refs(self, prefix: str = "") -> list[str]:
        """The keys of every ref that starts with ``prefix``, sorted."""
        check_ref_key(prefix, prefix=True)
        result: list[str] = self.transport.request("GET", "/refs", params={"prefix": prefix}).json()
        return result
