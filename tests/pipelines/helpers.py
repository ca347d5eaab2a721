"""What several pipeline tests share: the command in a subprocess, a killer of started steps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.services import wait_until

REPO = Path(__file__).resolve().parents[2]


def steward_cli(home: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``steward ARGS`` in a new process on workspace ``home``, run from ``cwd``."""
    environment = {
        **os.environ,
        "STEWARD_HOME": str(home),
        "COLUMNS": "200",
        "PYTHONPATH": str(REPO),
        "RAY_AUTH_MODE": "disabled",
        **env,
    }
    environment.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "steward.cli", *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def kill_when_started(pid_file: Path, timeout: float = 120) -> threading.Thread:
    """A started thread that SIGKILLs the process whose pid appears in ``pid_file``."""

    def kill() -> None:
        assert wait_until(pid_file.exists, timeout=timeout)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=kill)
    thread.start()
    return thread
