"""The environment a model was logged in: Python version and pinned packages.

The lock is computed in-process and fast (no pip, no subprocess): the
flavor's own libraries plus every installed distribution that provides a
top-level module the process has imported. Developer tooling (test runners,
linters, notebooks) is left out: it is not something the model needs.
"""

from __future__ import annotations

import functools
import importlib.metadata as importlib_metadata
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LOCK_FILE = "requirements.lock"
SELF_DISTRIBUTION = "mlsteward"

# Imported by tooling around the model, never by the model itself.
_TOOLING = frozenset(
    {
        "pytest",
        "_pytest",
        "pluggy",
        "iniconfig",
        "hypothesis",
        "xdist",
        "execnet",
        "pytest_timeout",
        "pytest_xdist",
        "coverage",
        "mypy",
        "ruff",
        "moto",
        "IPython",
        "ipykernel",
        "jupyter_client",
        "debugpy",
        "pip",
        "setuptools",
        "wheel",
        "_distutils_hack",
        "pkg_resources",
        "typeguard",
    }
)
_TOOLING_DISTRIBUTIONS = frozenset(
    {
        "pytest",
        "pluggy",
        "iniconfig",
        "hypothesis",
        "pytest-xdist",
        "execnet",
        "pytest-timeout",
        "coverage",
        "mypy",
        "ruff",
        "moto",
        "ipython",
        "ipykernel",
        "debugpy",
        "pip",
        "setuptools",
        "wheel",
        SELF_DISTRIBUTION,
    }
)


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return dict(importlib_metadata.packages_distributions())


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def imported_distributions() -> set[str]:
    """Installed distributions that provide a top-level module this process imported."""
    mapping = _module_distributions()
    found: set[str] = set()
    for module in list(sys.modules):
        if "." in module or (module.startswith("_") and module != "_cffi_backend"):
            continue
        if module in _TOOLING or module in sys.stdlib_module_names:
            continue
        for distribution in mapping.get(module, ()):
            found.add(distribution)
    return found


@dataclass(frozen=True)
class EnvironmentLock:
    """Python version and pinned ``name==version`` requirements."""

    python_version: str
    packages: dict[str, str]
    platform: str = ""
    steward_version: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def requirements(self) -> list[str]:
        """The pins, one ``name==version`` each, sorted."""
        return [f"{name}=={version}" for name, version in sorted(self.packages.items())]

    def lock_text(self) -> str:
        """The lock file: a comment header and the pins (pip ``-r`` compatible)."""
        header = [
            f"# python_version: {self.python_version}",
            f"# platform: {self.platform}",
            f"# written by Steward {self.steward_version or 'unknown'}",
        ]
        return "\n".join([*header, *self.requirements()]) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "python_version": self.python_version,
            "platform": self.platform,
            "steward_version": self.steward_version,
            "packages": dict(sorted(self.packages.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvironmentLock:
        """Inverse of ``to_dict``."""
        return cls(
            data["python_version"],
            dict(data.get("packages", {})),
            data.get("platform", ""),
            data.get("steward_version"),
        )


def capture_environment(
    flavor_libraries: Iterable[str] = (), extra: Iterable[str] = ()
) -> EnvironmentLock:
    """Lock the current environment for a model.

    Args:
        flavor_libraries: distributions the flavor needs (always pinned when installed).
        extra: further distributions to pin (e.g. ones imported lazily at predict time).
    """
    names = {*flavor_libraries, *extra, *imported_distributions()}
    packages: dict[str, str] = {}
    for name in names:
        if _canonical(name) in _TOOLING_DISTRIBUTIONS:
            continue
        version = installed_version(name)
        if version is not None:
            packages[_canonical(name)] = version
    return EnvironmentLock(
        python_version=platform.python_version(),
        packages=packages,
        platform=f"{sys.platform}-{platform.machine()}",
        steward_version=installed_version(SELF_DISTRIBUTION),
    )


@dataclass(frozen=True)
class Mismatch:
    """One difference between a model's lock and the current environment."""

    what: str
    locked: str
    current: str | None

    @property
    def severity(self) -> str:
        """``missing``, ``python`` or ``version``."""
        if self.current is None:
            return "missing"
        return "python" if self.what == "python" else "version"


def check_environment(lock: EnvironmentLock) -> list[Mismatch]:
    """Compare the current environment with ``lock``; an empty list means it matches."""
    mismatches: list[Mismatch] = []
    current_python = platform.python_version()
    if current_python != lock.python_version:
        mismatches.append(Mismatch("python", lock.python_version, current_python))
    for name, version in sorted(lock.packages.items()):
        current = installed_version(name)
        if current != version:
            mismatches.append(Mismatch(name, version, current))
    return mismatches
