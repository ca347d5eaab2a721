"""Blob store in a local folder: ``<root>/<algorithm>/<2 hex>/<62 hex>``.

Refs live under ``<root>/refs/<key>``, written like blobs (temp file, made
durable, renamed over the old one).

A blob is written to ``<root>/tmp``, made durable and only then renamed to
its final name, so a blob that is visible is always whole. Every write goes
through a batch (a single ``put_*`` on the store is a batch of one): the
batch's blobs are made durable together when it ends (see
``steward.blobs.files``: one ``syncfs`` for many small blobs, writeback
started early for large ones) and then published. Blobs are read-only
(mode 0444): a file checked out as a hard link to one can be replaced, but
not written through, by its user (a process running as root can still write
it; reads verify the digest and would refuse the blob).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from steward.blobs.base import FRESHEN_AFTER, BlobRef, BlobStore, StoredBlob, check_ref_key
from steward.blobs.digest import (
    ALGORITHMS,
    CHUNK_SIZE,
    DEFAULT_ALGORITHM,
    check_bytes,
    copy_hashing,
    copy_verified,
    digest_bytes,
    digest_file,
    format_digest,
    is_digest,
    new_hasher,
    parse_digest,
    verify_digest,
    write_verified,
)
from steward.blobs.files import (
    FlushAhead,
    make_durable,
    start_writeback,
    storage_errors,
    sync_in_background,
    temp_beside,
    temp_name,
)
from steward.errors import Conflict, IntegrityError, NotFound

BLOB_MODE = 0o444
_IN_MEMORY_MAX = 8 << 20
"""Files up to this size are read whole, so a blob already stored is not written again."""
_MISSING_BY_LISTING = 256
"""From this many digests on, ``missing`` lists folders instead of testing each blob."""
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int, size: int) -> bytes:
    """The bytes of an open file whose size was ``size`` (it may have changed since)."""
    parts = [os.read(fd, max(size, 1))]
    while part := os.read(fd, CHUNK_SIZE):
        parts.append(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _open_regular(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Open a regular file for reading: (descriptor, size).

    Raises:
        NotFound: no such file, or not a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise NotFound(f"cannot store {path}: no such file.") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotFound(f"cannot store {path}: no such file.")
    return fd, info.st_size


class LocalBlobStore:
    """Blobs in a local folder, written with temp file, made durable, then renamed."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        algorithm: str = DEFAULT_ALGORITHM,
        create: bool = True,
    ) -> None:
        """Open the store in folder ``root``.

        Args:
            root: the folder.
            algorithm: digest algorithm for new blobs.
            create: create the folder if missing; otherwise a missing folder is
                ``NotFound`` and nothing is written until a blob or ref is.

        Raises:
            NotFound: ``create`` is False and ``root`` is not a folder.
        """
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        new_hasher(algorithm)  # validates the name early
        self.algorithm = algorithm
        self._tmp = self.root / "tmp"
        self._tmp_prefix = f"{self._tmp}{os.sep}"
        if create:
            self._tmp.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise NotFound(f"there is no blob store at {self.url}: no such folder. Check the path.")

    def location(self, digest: str) -> str:
        """Where the blob with ``digest`` lives, as a string (whether or not it exists)."""
        algorithm, hex_value = parse_digest(digest)
        return f"{self.url}{os.sep}{algorithm}{os.sep}{hex_value[:2]}{os.sep}{hex_value[2:]}"

    def path_of(self, digest: str) -> Path:
        """Where the blob with ``digest`` lives (whether or not it exists)."""
        return Path(self.location(digest))

    # -- writing ------------------------------------------------------------------

    def _publish(self, temp: str, digest: str) -> None:
        final = self.location(digest)
        try:
            os.replace(temp, final)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(temp, final)

    @contextmanager
    def _temp_file(self) -> Iterator[tuple[str, int]]:
        """A new temp file open for writing: (path, descriptor); removed if the block fails."""
        temp = self._tmp_prefix + temp_name()
        try:
            fd = os.open(temp, _CREATE_FLAGS, BLOB_MODE)
        except FileNotFoundError:  # opened without ``create``, or removed since
            self._tmp.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, _CREATE_FLAGS, BLOB_MODE)
        try:
            yield temp, fd
        except BaseException:
            os.unlink(temp)
            raise
        finally:
            os.close(fd)

    def _write_temp(self, data: bytes | memoryview) -> tuple[str, str | None]:
        """Hash ``data`` and write it to a temp file unless already stored."""
        digest = digest_bytes(data, self.algorithm)
        if self._reuse(digest):
            return digest, None
        with self._temp_file() as (temp, fd):
            _write_all(fd, data)
            start_writeback(fd, len(data))
        return digest, temp

    def _stream_temp(self, fd: int) -> tuple[str, int, str]:
        """Copy an open file to a temp file while hashing it: (digest, size, temp)."""
        hasher = new_hasher(self.algorithm, parallel=True)
        with (
            self._temp_file() as (temp, out),
            open(fd, "rb", buffering=0, closefd=False) as reader,
            open(out, "wb", buffering=0, closefd=False) as writer,
        ):
            size = copy_hashing(reader, writer, hasher)
            start_writeback(out, size)
        return format_digest(self.algorithm, hasher.hexdigest()), size, temp

    def _file_temp(self, path: str | os.PathLike[str]) -> tuple[BlobRef, str | None]:
        """Store a local file's bytes in a temp file unless already stored."""
        fd, size = _open_regular(path)
        try:
            if size <= _IN_MEMORY_MAX:
                data = _read_all(fd, size)
                digest, temp = self._write_temp(data)
                return BlobRef(digest, len(data)), temp
            digest, size, temp = self._stream_temp(fd)
        finally:
            os.close(fd)
        if self._reuse(digest):
            os.unlink(temp)
            return BlobRef(digest, size), None
        return BlobRef(digest, size), temp

    def _copy_temp(self, source: BlobStore, digest: str) -> tuple[int, str]:
        """Copy blob ``digest`` of ``source`` to a temp file, verified in the same pass."""
        with (
            self._temp_file() as (temp, fd),
            source.open_unverified(digest) as reader,
            open(fd, "wb", buffering=0, closefd=False) as writer,
        ):
            size = write_verified(reader, writer, digest, source.url)
            start_writeback(fd, size)
        return size, temp

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Store ``data`` and return its reference (a no-op if already stored)."""
        with self.batch() as batch:
            return batch.put_bytes(data)

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Copy a local file into the store while hashing it (one pass)."""
        with self.batch() as batch:
            return batch.put_file(path)

    def put_copy(self, source: BlobStore, digest: str) -> BlobRef:
        """Copy blob ``digest`` from ``source``, verifying it in the same pass."""
        with self.batch() as batch:
            return batch.put_copy(source, digest)

    @contextmanager
    def batch(self, sync_early: bool = False) -> Iterator[LocalBlobBatch]:
        """Write many blobs, published together (durably) when the block ends.

        Blobs put through the batch become visible when the block exits. Blobs
        finished before an exception are published too (they are whole, and
        an interrupted add or transfer then resumes from them); a blob is
        never visible before it is durable. With ``sync_early`` each blob is
        fsync'ed on a background thread as soon as it is written, for a batch
        that stays open while its writer does other work (see
        ``steward.blobs.files``); the block's end then waits for those.
        """
        with storage_errors(f"the blob store {self.url}"):
            batch = LocalBlobBatch(self, sync_early)
            try:
                yield batch
            finally:
                batch.commit()

    # -- reading ------------------------------------------------------------------

    def _stored_path(self, digest: str) -> str:
        location = self.location(digest)
        if not os.path.isfile(location):
            raise NotFound(f"blob {digest} is not in the blob store at {self.url}.")
        return location

    def get_bytes(self, digest: str) -> bytes:
        """Return the verified content of a blob."""
        try:
            fd = os.open(self.location(digest), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is not in the blob store at {self.url}.") from exc
        try:
            info = os.fstat(fd)
            data = _read_all(fd, info.st_size)
        finally:
            os.close(fd)
        try:
            check_bytes(data, digest, self.url)
        except IntegrityError as exc:
            raise self._set_aside(digest, info.st_ino, exc) from None
        return data

    def _set_aside(self, digest: str, inode: int, error: IntegrityError) -> IntegrityError:
        """Move a blob found damaged out of the store; the error to raise, saying where.

        Kept under ``damaged/`` for inspection. The blob then counts as
        missing, so pulling its version again or storing its object again
        restores it (both skip blobs that are present), and ``damage_epoch``
        changes. ``inode`` is the file that was read: if another reader set it
        aside and a good copy took its place meanwhile, that copy stays.
        """
        algorithm, hex_value = parse_digest(digest)
        aside = self.root / "damaged" / f"{algorithm}-{hex_value}-{temp_name()}"
        aside.parent.mkdir(exist_ok=True)
        location = self.location(digest)
        try:
            if os.stat(location).st_ino != inode:
                return error
            os.replace(location, aside)
        except FileNotFoundError:  # another reader set it aside first
            return error
        return IntegrityError(
            f"{error} (It was moved to {aside}, so that a pull or a new store puts it back.)"
        )

    def open_unverified(self, digest: str) -> BinaryIO:
        """A stream of the blob's stored bytes, unchecked: the reader verifies them."""
        return open(self._stored_path(digest), "rb")

    def get_file(self, digest: str, destination: str | os.PathLike[str]) -> Path:
        """Copy a blob to ``destination``, verified, appearing only when whole."""
        with self.open_unverified(digest) as reader:
            try:
                return copy_verified(reader, destination, digest, self.url)
            except IntegrityError as exc:
                raise self._set_aside(digest, os.fstat(reader.fileno()).st_ino, exc) from None

    def link_file(self, digest: str, destination: str | os.PathLike[str]) -> Path:
        """Hard-link a verified blob at ``destination`` (replacing a file there).

        The file then shares the blob's storage: it is read-only, and writing
        to it in place (as root, who may) would corrupt the blob, which the
        next verified read would refuse. Replacing it (what editors and most
        tools do on save) is safe. Where a hard link is impossible (another
        filesystem), the blob is copied instead.

        Raises:
            IntegrityError: the blob no longer matches its digest.
        """
        algorithm, _ = parse_digest(digest)
        location = self._stored_path(digest)
        inode = os.stat(location).st_ino
        actual, _ = digest_file(location, algorithm)
        try:
            verify_digest(digest, actual.split(":", 1)[1], self.url)
        except IntegrityError as exc:
            raise self._set_aside(digest, inode, exc) from None
        target = os.fspath(destination)
        temp = temp_beside(target)
        try:
            os.link(location, temp)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.link(location, temp)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            return self.get_file(digest, target)
        try:
            os.replace(temp, target)
        except BaseException:
            os.unlink(temp)
            raise
        return Path(target)

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return os.path.isfile(self.location(digest))

    def _reuse(self, digest: str) -> bool:
        """Whether the blob is stored, marking it as used now if it was not lately.

        False also when it could not be marked (another user's blob): it is
        then written again, which marks it too.
        """
        location = self.location(digest)
        try:
            used_at = os.stat(location).st_mtime
        except (FileNotFoundError, NotADirectoryError):
            return False
        if time.time() - used_at > FRESHEN_AFTER:
            try:
                os.utime(location)
            except OSError:  # collected meanwhile, or not ours to touch
                return False
        return True

    def missing(self, digests: list[str], touch: bool = False) -> list[str]:
        """The subset of ``digests`` that is not stored, in input order.

        Many digests are checked against folder listings (one per blob
        folder), not one ``stat`` each. With ``touch``, the present ones are
        marked as used now (see ``steward.blobs.base``).
        """
        if len(digests) < _MISSING_BY_LISTING:
            absent = [digest for digest in digests if not self.exists(digest)]
        else:
            absent = self._missing_by_listing(digests)
        if not touch:
            return absent
        gone = set(absent)
        return [digest for digest in digests if digest in gone or not self._reuse(digest)]

    def _missing_by_listing(self, digests: list[str]) -> list[str]:
        listings: dict[str, set[str]] = {}
        absent = []
        for digest in digests:
            folder, name = os.path.split(self.location(digest))
            names = listings.get(folder)
            if names is None:
                try:
                    names = listings[folder] = set(os.listdir(folder))
                except FileNotFoundError:
                    names = listings[folder] = set()
            if name not in names:
                absent.append(digest)
        return absent

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""
        return os.stat(self._stored_path(digest)).st_size

    # -- refs -----------------------------------------------------------------------

    def _ref_location(self, key: str) -> str:
        return os.path.join(self.url, "refs", *check_ref_key(key).split("/"))

    def put_ref(self, key: str, data: bytes, exclusive: bool = False) -> None:
        """Write ref ``key``: a durable temp file renamed over the old one.

        With ``exclusive``, the temp file is hard-linked to the ref's name
        instead, which fails (atomically) if the name exists.

        Raises:
            Conflict: ``exclusive`` and the ref exists.
        """
        final = self._ref_location(key)
        with storage_errors(f"the blob store {self.url}"), self._temp_file() as (temp, fd):
            _write_all(fd, data)
            make_durable([temp], str(self._tmp), len(data))
            os.makedirs(os.path.dirname(final), exist_ok=True)
            if not exclusive:
                os.replace(temp, final)
                return
            try:
                os.link(temp, final)
            except FileExistsError as exc:
                raise Conflict(f"ref {key!r} already exists in {self.url}.") from exc
            os.unlink(temp)

    def get_ref(self, key: str) -> bytes:
        """Return the content of ref ``key``.

        Raises:
            NotFound: no such ref.
        """
        try:
            with open(self._ref_location(key), "rb") as reader:
                return reader.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise NotFound(f"no ref {key!r} in the blob store at {self.url}.") from exc

    def damage_epoch(self) -> int:
        """How many blobs were set aside as damaged (see ``_set_aside``)."""
        try:
            return len(os.listdir(self.root / "damaged"))
        except FileNotFoundError:
            return 0

    def list_refs(self, prefix: str = "") -> list[str]:
        """The keys of every ref that starts with ``prefix``, sorted."""
        folder = check_ref_key(prefix, prefix=True).rpartition("/")[0]
        refs = os.path.join(self.url, "refs")
        keys = []
        for path, _, names in os.walk(os.path.join(refs, *folder.split("/"))):
            relative = os.path.relpath(path, refs).replace(os.sep, "/")
            keys += [name if relative == "." else f"{relative}/{name}" for name in names]
        return sorted(key for key in keys if key.startswith(prefix))

    # -- collecting ----------------------------------------------------------------

    def list_blobs(self) -> Iterator[StoredBlob]:
        """Every blob stored (``<algorithm>/<2 hex>/<62 hex>``), with its size and time."""
        for algorithm in ALGORITHMS:
            try:
                folders = os.scandir(self.root / algorithm)
            except FileNotFoundError:
                continue
            with folders:
                for folder in folders:
                    if len(folder.name) != 2 or not folder.is_dir(follow_symlinks=False):
                        continue
                    with os.scandir(folder.path) as names:
                        for entry in names:
                            digest = f"{algorithm}:{folder.name}{entry.name}"
                            if not is_digest(digest):
                                continue
                            try:
                                info = entry.stat(follow_symlinks=False)
                            except FileNotFoundError:  # collected meanwhile
                                continue
                            yield StoredBlob(digest, info.st_size, info.st_mtime)

    def delete_unused(self, digest: str, unused_since: float) -> int | None:
        """Delete a blob unless it was written or reused at or after ``unused_since``.

        The blob is first renamed aside (atomically), and its time read from
        what was moved: a writer that marked it as used before the rename is
        seen and the blob is put back; one that comes after finds it gone and
        writes it again.
        """
        aside = self._tmp_prefix + f"collected-{temp_name()}"
        self._tmp.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(self.location(digest), aside)
        except FileNotFoundError:
            return None
        info = os.stat(aside)
        if info.st_mtime >= unused_since:
            os.replace(aside, self.location(digest))  # reused meanwhile: keep it
            return None
        os.unlink(aside)
        return info.st_size

    def remove_temporary(self, before: float) -> tuple[int, int]:
        """Remove the temp files of writes interrupted before ``before``: (files, bytes)."""
        files = size = 0
        try:
            entries = list(os.scandir(self._tmp))
        except FileNotFoundError:
            return 0, 0
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
                if info.st_mtime >= before or not entry.is_file(follow_symlinks=False):
                    continue
                os.unlink(entry.path)
            except FileNotFoundError:  # published or removed meanwhile
                continue
            files += 1
            size += info.st_size
        return files, size


class LocalBlobBatch:
    """Blobs written without waiting for the disk, made durable and published together.

    Thread-safe: a dataset's chunks are put from a pool of threads.
    """

    def __init__(self, store: LocalBlobStore, sync_early: bool = False) -> None:
        self.store = store
        self.algorithm = store.algorithm
        self._pending: dict[str, str] = {}
        self._pending_bytes = 0
        self._lock = threading.Lock()
        self._flush_ahead = FlushAhead(str(store._tmp))
        self._sync_early = sync_early
        self._syncing: dict[str, Future[None]] = {}
        """Temp files being fsync'ed in the background (``sync_early``)."""

    def _keep(self, digest: str, temp: str | None, size: int) -> None:
        if temp is None:
            return
        if not self._sync_early:
            self._flush_ahead.wrote(size)
        with self._lock:
            duplicate = digest in self._pending
            if not duplicate:
                self._pending[digest] = temp
                self._pending_bytes += size
                if self._sync_early:
                    self._syncing[temp] = sync_in_background(temp)
        if duplicate:
            os.unlink(temp)

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        """Write ``data``; it becomes visible when the batch commits."""
        digest, temp = self.store._write_temp(data)
        self._keep(digest, temp, len(data))
        return BlobRef(digest, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Copy a local file; it becomes visible when the batch commits."""
        ref, temp = self.store._file_temp(path)
        self._keep(ref.digest, temp, ref.size)
        return ref

    def put_copy(self, source: BlobStore, digest: str) -> BlobRef:
        """Copy blob ``digest`` from ``source``, verified; visible when the batch commits.

        Raises:
            IntegrityError: the source's bytes do not match ``digest`` (names both).
        """
        size, temp = self.store._copy_temp(source, digest)
        self._keep(digest, temp, size)
        return BlobRef(digest, size)

    def commit(self) -> None:
        """Make every pending blob durable (waiting for the fsyncs started early), then
        publish them."""
        with self._lock:
            pending, self._pending = self._pending, {}
            size, self._pending_bytes = self._pending_bytes, 0
            syncing, self._syncing = self._syncing, {}
        if not pending:
            return
        for started in syncing.values():
            started.result()
        rest = [temp for temp in pending.values() if temp not in syncing]
        make_durable(rest, str(self.store._tmp), size)
        for digest, temp in pending.items():
            self.store._publish(temp, digest)
