"""Peer tools for benchmarks, each installed into its own virtual environment.

A benchmark never installs a peer (MLflow, DVC, Evidently…) into our venv:
``ensure_venv`` makes ``.bench/venvs/<name>`` once, installs the pinned
requirements, and records them in a marker file so a changed pin reinstalls.
``run_snippet`` runs a Python file with that venv's interpreter, hands it a
JSON config and returns the JSON object it writes back.

Protocol of a snippet: ``python SNIPPET CONFIG_JSON RESULT_JSON``; it reads its
settings from the first file and writes one JSON object to the second. Its
stdout and stderr are passed through, so nothing a peer prints can corrupt
the result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / ".bench"
VENVS_DIR = BENCH_DIR / "venvs"
MARKER = "steward-bench-requirements.json"
# pip 23 (what ``python -m venv`` ships with Python 3.11) gives up resolving
# some trees here that newer pip resolves, so every peer venv upgrades pip first.
PIP_SPEC = "pip>=24"


def venv_python(venv: Path) -> Path:
    """The interpreter of a venv."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(
    name: str,
    requirements: Sequence[str],
    base_python: str | None = None,
    quiet: bool = True,
) -> Path:
    """Make (or reuse) the venv ``.bench/venvs/<name>`` holding ``requirements``.

    Args:
        name: folder name of the venv, e.g. ``"mlflow"``.
        requirements: pip requirement specs, pinned (``"mlflow==3.17.2"``).
        base_python: interpreter that creates the venv (default: the one running).
        quiet: pass ``-q`` to pip.

    Returns:
        The venv's Python interpreter.

    Raises:
        subprocess.CalledProcessError: venv creation or pip failed.
    """
    venv = VENVS_DIR / name
    python = venv_python(venv)
    marker = venv / MARKER
    wanted = sorted(requirements)
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == wanted:
        return python
    if not python.exists():
        VENVS_DIR.mkdir(parents=True, exist_ok=True)
        # ``sys._base_executable`` is the interpreter behind our own venv, so the
        # peer's venv never inherits our site-packages.
        creator = base_python or getattr(sys, "_base_executable", sys.executable)
        subprocess.run([creator, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("-q")
    print(f"[peers] installing {' '.join(wanted)} into {venv}", file=sys.stderr, flush=True)
    subprocess.run([*pip, "-U", PIP_SPEC], check=True)
    subprocess.run([*pip, *wanted], check=True)
    marker.write_text(json.dumps(wanted))
    return python


MLFLOW_SPEC = "mlflow==3.17.2"
"""The newest MLflow that installs here (3.18.0's mlflow-skinny is not published)."""


def mlflow_python() -> Path:
    """The MLflow venv shared by every benchmark, with our scikit-learn version so
    models move between the two tools."""
    import sklearn

    return ensure_venv("mlflow", [MLFLOW_SPEC, f"scikit-learn=={sklearn.__version__}"])


def installed_version(python: Path, distribution: str) -> str:
    """The version of ``distribution`` installed in the venv of ``python``."""
    code = f"from importlib.metadata import version; print(version({distribution!r}))"
    done = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def run_snippet(
    python: Path | str,
    snippet: Path | str,
    config: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run a snippet file with ``python`` and return the JSON object it writes.

    Args:
        python: interpreter to run it with (a peer venv's, or ours).
        snippet: path of the snippet file (see the module docstring for its protocol).
        config: JSON-serialisable settings handed to the snippet.
        env: extra environment variables for the child.
        cwd: working folder of the child (default: a fresh temporary one, so a
            peer that writes next to itself leaves nothing in the repo).
        timeout: seconds before the child is killed.

    Returns:
        The snippet's result object.

    Raises:
        RuntimeError: the snippet failed or wrote no result.
    """
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as scratch:
        config_path = Path(scratch) / "config.json"
        result_path = Path(scratch) / "result.json"
        config_path.write_text(json.dumps(dict(config)))
        child_env = {**os.environ, **(env or {})}
        done = subprocess.run(
            [str(python), str(snippet), str(config_path), str(result_path)],
            env=child_env,
            cwd=str(cwd or scratch),
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0 or not result_path.exists():
            raise RuntimeError(
                f"snippet {snippet} failed with exit code {done.returncode} under {python}"
            )
        result: dict[str, Any] = json.loads(result_path.read_text())
        return result
