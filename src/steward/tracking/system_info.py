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


def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status),
        "root": git("rev-parse", "--show-toplevel"),
    }


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


def _name_and_version(dist: metadata.Distribution) -> tuple[str | None, str | None]:
    """A distribution's ``Name`` and ``Version`` from the head of its metadata file.

    ``dist.metadata`` runs the e-mail parser over the whole file (long
    descriptions included) at each access, which made the first run of a
    process spend a third of a second on a few hundred packages.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.splitlines():
        if not line:  # the headers end at the first blank line
            break
        if name is None and line.startswith("Name:"):
            name = line[5:].strip()
        elif version is None and line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            break
    return name, version


def installed_packages() -> dict[str, str | None]:
    """Installed distributions, ``lower-case name -> version``."""
    packages: dict[str, str | None] = {}
    for dist in metadata.distributions():
        name, version = _name_and_version(dist)
        if name:
            packages[name.lower()] = version
    return packages


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
