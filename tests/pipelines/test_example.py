"""The runnable example of docs/pipelines.md runs, offline, from a fresh workspace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "triage_pipeline.py"


@pytest.mark.slow
def test_the_pipelines_example_runs(tmp_path: Path) -> None:
    env = {**os.environ, "STEWARD_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "chose the" in done.stdout
    assert "second run: {'cached': 7}" in done.stdout
    assert "scored 69 new cases" in done.stdout
    assert "labels joined: 69 of 69" in done.stdout
