"""The environment a model was logged in: Python version and pinned packages.

The lock is computed in-process and fast (no pip, no subprocess): the
flavor's own libraries plus every installed distribution that provides a
top-level module the process has imported. Developer tooling (test runners,
linters, notebooks) is left out: it is not something the model needs.

The lock travels in the model's descriptor, which may be hand-edited, and its
values end up in a Dockerfile and a pip requirements file. So every value
must fit a strict grammar before it is used (``EnvironmentLock.check``): PEP
508 distribution names, PEP 440 versions, a plain Python version and
platform; never a pip option (``--index-url``, ``-e``), a URL, an environment
marker or a line break.
"""

from __future__ import annotations

import functools
import importlib.metadata as importlib_metadata
import platform
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from steward.errors import InvalidInput

LOCK_FILE = "requirements.lock"
SELF_DISTRIBUTION = "mlsteward"
_DISTRIBUTION_NAME = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
"""PEP 508's name grammar (letters, digits, ``.``, ``_``, ``-``; alphanumeric at both ends)."""
_VERSION_CHARACTERS = re.compile(r"^[A-Za-z0-9.!+_-]+$")
_PYTHON_VERSION = re.compile(r"^[0-9]+\.[0-9]+(\.[0-9]+)?((a|b|rc)[0-9]+)?$")
_PLATFORM = re.compile(r"^[A-Za-z0-9._-]{0,100}$")

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


def is_distribution_name(name: object) -> bool:
    """Whether ``name`` is a PEP 508 distribution name (and nothing more)."""
    return isinstance(name, str) and bool(_DISTRIBUTION_NAME.match(name))


def is_version(version: object) -> bool:
    """Whether ``version`` is a PEP 440 version, written with its own characters only."""
    if not isinstance(version, str) or not _VERSION_CHARACTERS.match(version):
        return False
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def _refuse(field_name: str, value: object, grammar: str) -> InvalidInput:
    return InvalidInput(
        f"the model's environment lock is refused: {field_name} is {value!r}, which is not "
        f"{grammar}. The descriptor was edited by hand or damaged; log the model again."
    )


def check_distribution_names(names: Iterable[str], what: str) -> tuple[str, ...]:
    """Return ``names`` once each is a PEP 508 distribution name.

    Raises:
        InvalidInput: one is not (a pip option, a URL, a version pin, a marker…).
    """
    checked = tuple(names)
    for name in checked:
        if not is_distribution_name(name):
            raise InvalidInput(
                f"{what} {name!r} is not a distribution name: give plain names such as "
                "'torch' (Steward pins the installed version), no versions, options, "
                "URLs or markers."
            )
    return checked


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

    def check(self) -> EnvironmentLock:
        """Return the lock once every value fits its grammar (it reaches pip and Docker).

        Raises:
            InvalidInput: a value does not; the message names the field.
        """
        if not isinstance(self.python_version, str) or not _PYTHON_VERSION.match(
            self.python_version
        ):
            raise _refuse(
                "environment.python_version", self.python_version, "a Python version like 3.11.7"
            )
        if not isinstance(self.platform, str) or not _PLATFORM.match(self.platform):
            raise _refuse("environment.platform", self.platform, "a platform like linux-x86_64")
        if self.steward_version is not None and not is_version(self.steward_version):
            raise _refuse("environment.steward_version", self.steward_version, "a PEP 440 version")
        if not isinstance(self.packages, dict):
            raise _refuse("environment.packages", self.packages, "a map of names to versions")
        for name, version in self.packages.items():
            if not is_distribution_name(name):
                raise _refuse(f"environment.packages[{name!r}]", name, "a PEP 508 name")
            if not is_version(version):
                raise _refuse(f"environment.packages[{name!r}]", version, "a PEP 440 version")
        return self

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
        if _canonical(name) in _TOOLING_DISTRIBUTIONS or not is_distribution_name(name):
            continue
        version = installed_version(name)
        if is_version(version):  # pip could not pin anything else
            assert version is not None
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
    """Compare the current environment with ``lock``; an empty list means it matches.

    Raises:
        InvalidInput: a value of the lock does not fit its grammar (see ``check``).
    """
    lock.check()
    mismatches: list[Mismatch] = []
    current_python = platform.python_version()
    if current_python != lock.python_version:
        mismatches.append(Mismatch("python", lock.python_version, current_python))
    for name, version in sorted(lock.packages.items()):
        current = installed_version(name)
        if current != version:
            mismatches.append(Mismatch(name, version, current))
    return mismatches
