"""What a run ran on: interpreter, packages, host, hardware and git state.

Collected once per process (packages and git take tens of milliseconds) and
stored as a content-addressed JSON blob, so a thousand runs from the same
environment share one copy.
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


def _metadata_files() -> list[str] | None:
    """The metadata files of the distributions on ``sys.path``, in its order; None when
    an entry is not a plain folder (a zip or an egg), which only ``importlib`` reads."""
    files = []
    for entry in sys.path:
        if os.path.isfile(entry or "."):
            return None
        try:
            children = os.scandir(entry or ".")
        except OSError:
            continue
        with children:
            for child in children:
                lowered = child.name.lower()
                if lowered.endswith(".dist-info"):
                    files.append(os.path.join(child.path, "METADATA"))
                elif lowered.endswith(".egg-info"):
                    is_folder = child.is_dir()
                    files.append(os.path.join(child.path, "PKG-INFO") if is_folder else child.path)
    return files


def _read_name_and_version(path: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` of a metadata file (None for what cannot be read).

    Read with ``os.read``: a buffered file object costs three times the read itself,
    hundreds of times over."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None, None
    try:
        head = os.read(fd, HEAD_BYTES)
        name, version, over = _name_and_version(head, len(head) < HEAD_BYTES)
        if not over:
            parts = [head]
            while chunk := os.read(fd, 1 << 16):
                parts.append(chunk)
            name, version, _ = _name_and_version(b"".join(parts), True)
        return name, version
    except OSError:
        return None, None
    finally:
        os.close(fd)


def installed_packages() -> dict[str, str | None]:
    """Installed distributions, ``lower-case name -> version``.

    The metadata files are found and read directly, only their headers:
    ``importlib.metadata`` (whose ``dist.metadata`` also runs the e-mail parser
    over long descriptions) made the first run of a process spend ten times as
    long on a few hundred packages. It still reads ``sys.path`` entries that
    are zips or eggs.
    """
    files = _metadata_files()
    found = (
        [_read_name_and_version(path) for path in files]
        if files is not None
        else [_name_and_version(_metadata_text(dist).encode(), True)[:2]
              for dist in metadata.distributions()]
    )  # fmt: skip
    packages: dict[str, str | None] = {}
    for name, version in found:
        if name:
            packages[name.lower()] = version
    return packages


def _metadata_text(dist: metadata.Distribution) -> str:
    return dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""


@functools.cache
def collect_system_info() -> dict[str, Any]:
    """The system facts recorded with every run started by this process."""
    packages = installed_packages()
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu": {"model": _cpu_model(), "count": os.cpu_count()},
        "memory_bytes": _memory_bytes(),
        "git": _git_state(),
        "packages": dict(sorted(packages.items())),
    }
