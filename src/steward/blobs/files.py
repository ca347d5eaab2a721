"""Writing files safely and cheaply: unique temporary names, and durability.

Files are written under a temporary name and renamed once whole. The names
come from a counter (no random bytes to ask the kernel for per file), made
unique across processes by the process id and a random per-process part.

A blob may become visible (be renamed to its final name) only once its bytes
are on disk, so that a crash never leaves a visible blob that is incomplete.
Two Linux calls make this cheap, both reached through libc since Python's
``os`` module lacks them:

* ``sync_file_range(SYNC_FILE_RANGE_WRITE)`` starts writing a large file's
  dirty pages back while the caller goes on hashing and writing the next
  ones, so the final wait overlaps useful work instead of following it;
* ``syncfs`` makes a whole batch durable with one filesystem flush and one
  journal commit, instead of one fsync (and one commit) per file: thousands
  of small blobs cost one wait. It also waits for every other process's
  unwritten data on that filesystem, so it is used only for batches of many
  files, and only while the machine's dirty data (``/proc/meminfo``) is
  mostly the batch's own; otherwise each file is fsync'ed.

A writer that keeps a batch open while it does other work (a pipeline run
between its steps) can instead have each file fsync'ed on a background thread
as soon as it is written (``sync_in_background``): the wait then overlaps that
work, and the batch, when it ends, waits only for what is still running.

Elsewhere (other systems, or libc without them) each file is fsync'ed, in
parallel.
"""

from __future__ import annotations

import errno
import itertools
import os
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any

from steward.errors import StorageError, StorageFull

SYNCFS_MIN_FILES = 64
"""A batch of at least this many files is made durable with one syncfs (if
little else waits to be written: see ``OTHERS_DIRTY_ALLOWANCE``)."""

OTHERS_DIRTY_ALLOWANCE = 64 << 20
"""Bytes of other writers' data that ``syncfs`` may wait for; beyond, files are fsync'ed."""

WRITEBACK_MIN_BYTES = 1 << 20
"""Files of at least this size start their writeback as soon as they are written."""

_SYNC_FILE_RANGE_WRITE = 2
_FSYNC_THREADS = 8
_PROCESS_TOKEN = uuid.uuid4().hex[:12]
_TEMP_COUNTER = itertools.count()


def temp_name() -> str:
    """A file name no other write (in this or another process) is using."""
    return f"{os.getpid()}-{_PROCESS_TOKEN}-{next(_TEMP_COUNTER)}"


def temp_beside(target: str) -> str:
    """A hidden temporary path in ``target``'s folder, to write and then rename to it."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{temp_name()}.tmp")


@cache
def _libc() -> Any:
    """The C library if it has ``syncfs`` and ``sync_file_range`` (Linux), else None.

    Loaded on first use (``ctypes`` costs a process ~2 ms to import): writing a few
    small blobs, as a pipeline run does, never needs it.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    from steward.libc import libc

    lib = libc()
    if lib is None or not (hasattr(lib, "syncfs") and hasattr(lib, "sync_file_range")):
        return None
    lib.syncfs.argtypes = [ctypes.c_int]
    lib.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return lib


def start_writeback(fd: int, size: int) -> None:
    """Ask the kernel to start writing a just-written file to disk, without waiting.

    A hint only: durability still comes from ``make_durable``.
    """
    if size < WRITEBACK_MIN_BYTES:
        return
    libc = _libc()
    if libc is not None:
        libc.sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


FLUSH_AHEAD_BYTES = 32 << 20
"""A batch asks for its data to be flushed to disk each time it has written this much."""

_flusher: ThreadPoolExecutor | None = None
_flusher_lock = threading.Lock()


def _syncfs(folder: str) -> bool:
    """Flush the filesystem holding ``folder``; whether that succeeded."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        return bool(_libc().syncfs(fd) == 0)
    finally:
        os.close(fd)


class FlushAhead:
    """Flushes a filesystem to disk in the background as a batch writes to it.

    Small files are not worth one writeback request each; instead, every
    ``FLUSH_AHEAD_BYTES`` written, one ``syncfs`` runs on a background thread
    (never two at once), so that most of the data is on disk by the time the
    batch waits for all of it. A hint only: ``make_durable`` still decides.
    """

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self._unflushed = 0
        self._running: Future[bool] | None = None
        self._lock = threading.Lock()

    def wrote(self, size: int) -> None:
        """Count ``size`` bytes just written; start a flush if enough are waiting."""
        global _flusher
        if _libc() is None:
            return
        with self._lock:
            self._unflushed += size
            if self._unflushed < FLUSH_AHEAD_BYTES:
                return
            if self._running is not None and not self._running.done():
                return
            if _others_dirty(self._unflushed):
                return  # a syncfs would mostly write others' data: leave it to the final fsyncs
            self._unflushed = 0
            with _flusher_lock:
                if _flusher is None:
                    _flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="steward-flush")
            self._running = _flusher.submit(_syncfs, self._folder)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SYNC_EARLY_THREADS = 4
_syncer: ThreadPoolExecutor | None = None


def sync_in_background(path: str) -> Future[None]:
    """Start making one just-written file durable on a background thread.

    ``fsync`` waits for the disk without holding the GIL, so the caller goes on
    working meanwhile; whoever makes the file visible waits for the result first.
    """
    global _syncer
    with _flusher_lock:
        if _syncer is None:
            _syncer = ThreadPoolExecutor(
                max_workers=_SYNC_EARLY_THREADS, thread_name_prefix="steward-sync"
            )
    return _syncer.submit(_fsync, path)


def _forget_threads_after_fork() -> None:
    """A forked child has none of its parent's threads: its pools start their own."""
    global _syncer, _flusher
    _syncer = _flusher = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)


def _others_dirty(ours: int) -> bool:
    """Whether much more than ``ours`` bytes wait to be written to disk, machine-wide.

    ``syncfs`` would wait for all of it. Unknown (no ``/proc/meminfo``) counts as yes.
    """
    try:
        with open("/proc/meminfo", "rb") as handle:
            for line in handle:
                if line.startswith(b"Dirty:"):
                    return int(line.split()[1]) * 1024 > 2 * ours + OTHERS_DIRTY_ALLOWANCE
    except (OSError, ValueError, IndexError):
        pass
    return True


def make_durable(paths: Sequence[str], folder: str, size: int) -> None:
    """Return once the content of every file in ``paths`` is on disk.

    Args:
        paths: files just written, all on the filesystem of ``folder``.
        folder: a folder on that filesystem (for ``syncfs``).
        size: their total size in bytes.

    Raises:
        OSError: the disk reported a write error.
    """
    if not paths:
        return
    if (
        _libc() is not None
        and len(paths) >= SYNCFS_MIN_FILES
        and not _others_dirty(size)
        and _syncfs(folder)
    ):
        return
    if len(paths) == 1:
        _fsync(paths[0])
        return
    with ThreadPoolExecutor(max_workers=_FSYNC_THREADS) as pool:
        list(pool.map(_fsync, paths))


@contextmanager
def storage_errors(where: str) -> Iterator[None]:
    """Turn a full, over-quota or read-only disk under ``where`` into a one-line error.

    Raises:
        StorageFull: no space (or quota) left.
        StorageError: the filesystem is read-only.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(
                f"no space left on the disk of {where} ({os.strerror(exc.errno)}); free some "
                "space and try again. Nothing stored before was changed."
            ) from exc
        if exc.errno == errno.EROFS:
            raise StorageError(
                f"{where} is on a read-only filesystem; point Steward at a writable place."
            ) from exc
        raise
