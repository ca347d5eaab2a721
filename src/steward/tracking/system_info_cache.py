"""What a run's system info reads from disk, kept between processes.

Listing the installed packages reads the metadata of every distribution on
``sys.path`` (hundreds of files), and ``platform.platform()`` starts
``uname -p`` in a child process: together milliseconds that the first run of
every process paid. Both are kept in one file,
``$XDG_CACHE_HOME/steward/system-info.json`` (``~/.cache/steward/`` by
default), and each is reused only while what it was read from is unchanged:

* the packages of a folder on ``sys.path``, while the folder and every
  metadata file found in it keep the modification time, change time and size
  recorded. Installing, removing or upgrading a package adds or removes a
  folder in it, which changes the folder's times; a metadata file rewritten in
  place changes its own (and its change time cannot be set back). Times younger
  than ``SETTLE_S`` are never recorded: a change within the filesystem clock's
  granularity might not move them (git's "racily clean" entries), so such a
  folder is read again next time;
* the platform string, for the same interpreter file (path, times, size) and
  kernel (``os.uname()``).

The file is a cache, never a source of truth: it is read only if it belongs to
the user running Steward, anything in it not of the expected shape is ignored,
and when it cannot be written the facts are simply read each time.
"""

from __future__ import annotations

import json
import os
import stat
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

FORMAT = 1
"""Bumped when what the file records changes; a file of another format is ignored."""

SETTLE_S = 2.0
"""Seconds a folder or file must have been left unchanged before its reading is kept."""

MAX_FOLDERS = 64
"""Folders kept besides those this process read: the most recently recorded ones (folders
that no longer exist are dropped)."""

Stamp = list[int]
"""What says that a file is unchanged: modification time, change time (ns), size."""

Package = tuple[str | None, str | None]


def cache_file() -> Path:
    """Where the cache lives: ``$XDG_CACHE_HOME/steward/system-info.json``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "steward" / "system-info.json"


def stamp_of(info: os.stat_result) -> Stamp:
    """The stamp of a file or folder from its ``stat``."""
    return [info.st_mtime_ns, info.st_ctime_ns, info.st_size]


def _stamp_or_none(path: str) -> Stamp | None:
    try:
        return stamp_of(os.stat(path))
    except OSError:
        return None


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


class SystemInfoCache:
    """The cache file's content, checked on use and written back when it changed."""

    def __init__(self, path: Path, data: dict[str, Any] | None = None) -> None:
        self.path = path
        data = data or {}
        folders = data.get("folders")
        self._folders: dict[str, Any] = folders if isinstance(folders, dict) else {}
        platform_record = data.get("platform")
        self._platform = platform_record if isinstance(platform_record, dict) else {}
        self._changed = False
        self._read: set[str] = set()
        """The folders this process asked about (always kept)."""
        self._settled_before = time.time_ns() - int(SETTLE_S * 1e9)

    @classmethod
    def load(cls) -> SystemInfoCache:
        """The cache as stored (empty if missing, unreadable, not the user's or malformed)."""
        path = cache_file()
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return cls(path)
        try:
            info = os.fstat(fd)
            owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
            if not stat.S_ISREG(info.st_mode) or not owned:
                return cls(path)
            data = json.loads(os.read(fd, info.st_size + 1))
        except (OSError, ValueError):
            return cls(path)
        finally:
            os.close(fd)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return cls(path)
        return cls(path, data)

    def _settled(self, stamp: Stamp | None) -> bool:
        return stamp is None or max(stamp[0], stamp[1]) < self._settled_before

    def folder(self, folder: str, folder_stamp: Stamp) -> list[Package] | None:
        """The packages recorded for ``folder`` if it and its metadata files are unchanged."""
        self._read.add(folder)
        record = self._folders.get(folder)
        if not isinstance(record, dict) or record.get("stamp") != folder_stamp:
            return None
        packages: list[Package] = []
        try:
            for path, file_stamp, name, version in record["files"]:
                if not (isinstance(path, str) and _is_text(name) and _is_text(version)):
                    return None
                if _stamp_or_none(path) != file_stamp:
                    return None
                packages.append((name, version))
        except (KeyError, TypeError, ValueError):  # not the shape this module writes
            return None
        return packages

    def remember_folder(
        self,
        folder: str,
        folder_stamp: Stamp,
        files: list[tuple[str, Stamp | None, str | None, str | None]],
    ) -> None:
        """Record what ``folder``'s metadata files said, unless any of it changed just now."""
        if self._settled(folder_stamp) and all(self._settled(stamp) for _, stamp, _, _ in files):
            self._folders.pop(folder, None)  # last: the most recently read
            self._folders[folder] = {"stamp": folder_stamp, "files": [list(f) for f in files]}
            self._changed = True
        elif self._folders.pop(folder, None) is not None:
            self._changed = True

    def platform(self, key: list[Any]) -> str | None:
        """The platform string recorded for this interpreter and kernel, if any."""
        value = self._platform.get("value")
        return value if self._platform.get("key") == key and isinstance(value, str) else None

    def remember_platform(self, key: list[Any], value: str) -> None:
        """Record the platform string for this interpreter and kernel."""
        self._platform = {"key": key, "value": value}
        self._changed = True

    def save(self) -> None:
        """Write the cache back if it changed (atomically; silently not, where it cannot)."""
        if not self._changed:
            return
        others = [folder for folder in self._folders if folder not in self._read]
        kept = {*self._read, *[folder for folder in others if os.path.isdir(folder)][-MAX_FOLDERS:]}
        folders = {folder: record for folder, record in self._folders.items() if folder in kept}
        payload = {"format": FORMAT, "platform": self._platform, "folders": folders}
        data = json.dumps(payload, separators=(",", ":")).encode()
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(temp, flags, 0o600)
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, self.path)
        except OSError:
            with suppress(OSError):
                temp.unlink(missing_ok=True)
            return
        self._changed = False
