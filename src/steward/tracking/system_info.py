"""What a run ran on: interpreter, packages, host, hardware and git state.

Collected once per process and stored as a content-addressed JSON blob, so a
thousand runs from the same environment share one copy. What takes long to
find (the package list, the platform string) is kept between processes in a
per-user cache, reused only while what it was read from is unchanged
(``system_info_cache``); the git state is read each time.
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from typing import Any

from steward.tracking.system_info_cache import (
    Stamp,
    SystemInfoCache,
    cache_file,
    stamp_of,
)


def _in_git_work_tree() -> bool:
    """Whether git could find a repository from here: ``GIT_DIR`` is set, or a ``.git``
    (folder or file) is in this folder or above. Outside one, no git process is started
    (each costs a fork and an exec, milliseconds on a busy machine)."""
    if os.environ.get("GIT_DIR"):
        return True
    folder = os.path.abspath(os.getcwd())
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent


def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    if not _in_git_work_tree():
        return {"commit": None}
    head = git("rev-parse", "HEAD", "--abbrev-ref", "HEAD", "--show-toplevel")
    lines = head.splitlines() if head else []
    if len(lines) != 3:
        return {"commit": None}
    commit, branch, root = lines
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "branch": branch, "dirty": bool(status), "root": root}


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


HEAD_BYTES = 1024
"""Bytes of a metadata file read first: ``Name`` and ``Version`` are nearly always in its
first lines; the rest is read only when they are not."""


def _name_and_version(head: bytes, whole: bool) -> tuple[str | None, str | None, bool]:
    """``Name`` and ``Version`` from the head of a metadata file (its headers), and
    whether the search is over (both found, or the headers ended); the last line of a
    head that is not the ``whole`` file may be cut, so it is not read."""
    name = version = None
    lines = head.split(b"\n")
    if not whole:
        lines.pop()
    for raw in lines:
        line = raw.strip()
        if not line:  # the headers end at the first blank line
            return name, version, True
        if name is None and line.startswith(b"Name:"):
            name = line[5:].strip().decode("utf-8", "replace")
        elif version is None and line.startswith(b"Version:"):
            version = line[8:].strip().decode("utf-8", "replace")
        if name and version:
            return name, version, True
    return name, version, whole


def _path_folders() -> list[str] | None:
    """The folders on ``sys.path`` that exist, in its order, as absolute paths; None when
    an entry is not a plain folder (a zip or an egg), which only ``importlib`` reads."""
    folders = []
    for entry in sys.path:
        folder = os.path.abspath(entry or ".")
        if os.path.isfile(folder):
            return None
        if os.path.isdir(folder):
            folders.append(folder)
    return folders


def _metadata_files(folder: str) -> list[str]:
    """The metadata files of the distributions in ``folder``."""
    files: list[str] = []
    try:
        children = os.scandir(folder)
    except OSError:
        return files
    with children:
        for child in children:
            lowered = child.name.lower()
            if lowered.endswith(".dist-info"):
                files.append(os.path.join(child.path, "METADATA"))
            elif lowered.endswith(".egg-info"):
                is_folder = child.is_dir()
                files.append(os.path.join(child.path, "PKG-INFO") if is_folder else child.path)
    return files


def _read_name_and_version(path: str) -> tuple[Stamp | None, str | None, str | None]:
    """The stamp, ``Name`` and ``Version`` of a metadata file (None for what cannot be read).

    Read with ``os.read``: a buffered file object costs three times the read itself,
    hundreds of times over."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None, None, None
    try:
        stamp = stamp_of(os.fstat(fd))
        head = os.read(fd, HEAD_BYTES)
        name, version, over = _name_and_version(head, len(head) < HEAD_BYTES)
        if not over:
            parts = [head]
            while chunk := os.read(fd, 1 << 16):
                parts.append(chunk)
            name, version, _ = _name_and_version(b"".join(parts), True)
        return stamp, name, version
    except OSError:
        return None, None, None
    finally:
        os.close(fd)


def _folder_packages(folder: str, cache: SystemInfoCache) -> list[tuple[str | None, str | None]]:
    """``(Name, Version)`` of each distribution in ``folder``: from the cache while the
    folder and its metadata files are unchanged, else read (and recorded)."""
    try:
        folder_stamp = stamp_of(os.stat(folder))
    except OSError:
        return []
    known = cache.folder(folder, folder_stamp)
    if known is not None:
        return known
    files = [(path, *_read_name_and_version(path)) for path in _metadata_files(folder)]
    cache.remember_folder(folder, folder_stamp, files)
    return [(name, version) for _, _, name, version in files]


def installed_packages(cache: SystemInfoCache | None = None) -> dict[str, str | None]:
    """Installed distributions, ``lower-case name -> version``.

    The metadata files are found and read directly, only their headers:
    ``importlib.metadata`` (whose ``dist.metadata`` also runs the e-mail parser
    over long descriptions) made the first run of a process spend ten times as
    long on a few hundred packages. It still reads ``sys.path`` entries that
    are zips or eggs. With ``cache``, folders unchanged since they were last
    read are not read again (see ``system_info_cache``).
    """
    folders = _path_folders()
    if folders is None:
        found = [
            _name_and_version(_metadata_text(dist).encode(), True)[:2]
            for dist in metadata.distributions()
        ]
    else:
        cache = cache or SystemInfoCache(cache_file())
        found = [package for folder in folders for package in _folder_packages(folder, cache)]
    packages: dict[str, str | None] = {}
    for name, version in found:
        if name:
            packages[name.lower()] = version
    return packages


def _platform(cache: SystemInfoCache) -> str:
    """``platform.platform()``, recorded for this interpreter file and kernel (it starts
    ``uname -p`` in a child process)."""
    try:
        key: list[Any] = [sys.executable, *stamp_of(os.stat(sys.executable)), *os.uname()]
    except (OSError, AttributeError):  # no executable file, or no uname (Windows)
        return platform.platform()
    value = cache.platform(key)
    if value is None:
        value = platform.platform()
        cache.remember_platform(key, value)
    return value


def _metadata_text(dist: metadata.Distribution) -> str:
    return dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""


@functools.cache
def collect_system_info() -> dict[str, Any]:
    """The system facts recorded with every run started by this process."""
    cache = SystemInfoCache.load()
    packages = installed_packages(cache)
    platform_name = _platform(cache)
    cache.save()
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": platform_name,
        "host": socket.gethostname(),
        "cpu": {"model": _cpu_model(), "count": os.cpu_count()},
        "memory_bytes": _memory_bytes(),
        "git": _git_state(),
        "packages": dict(sorted(packages.items())),
    }
