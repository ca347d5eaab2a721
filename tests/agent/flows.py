"""Pipelines the agent tests fire (module level: the agent imports them by dotted path)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import steward


def _append(path: str, line: str) -> None:
    with Path(path).open("a") as handle:
        handle.write(line + "\n")


@steward.step
def note(path: str, label: str, key: str) -> str:
    """Append ``label`` and the firing's key to the file ``path`` (one line per execution)."""
    _append(path, f"{label} {key}".strip())
    return label


@steward.pipeline
def record(path: str, label: str = "run", cause: dict[str, Any] | None = None) -> str:
    """The agent passes ``cause`` (what fired it) because the pipeline declares it."""
    return note(path, label, (cause or {}).get("key", ""))


@steward.step
def slow(path: str, seconds: float) -> str:
    """Write 'start', sleep, write 'done': a kill in between leaves only 'start'."""
    _append(path, "start")
    time.sleep(seconds)
    _append(path, "done")
    return "slept"


@steward.pipeline
def sleepy(path: str, seconds: float = 3.0) -> str:
    return slow(path, seconds)


@steward.step
def explode(path: str) -> str:
    _append(path, "exploding")
    raise RuntimeError("the retraining data is unreadable")


@steward.pipeline
def broken(path: str) -> str:
    return explode(path)
