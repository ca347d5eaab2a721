"""The C library handle: found without starting a process, with the calls Steward uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, sys
started = []
sys.addaudithook(lambda event, args: started.append(event)
                 if event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork") else None)
from steward.libc import libc
lib = libc()
print(json.dumps({"started": started, "memchr": hasattr(lib, "memchr"),
                  "syncfs": hasattr(lib, "syncfs")}))
"""


@pytest.mark.skipif(os.name != "posix", reason="the process's own symbols hold libc on POSIX")
def test_libc_is_found_without_a_child_process() -> None:
    # ctypes.util.find_library ran "ldconfig -p" in a child process (1.5 ms, more under load)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=os.environ
    )
    found = json.loads(done.stdout)
    assert found["started"] == []
    assert found["memchr"]
    if sys.platform.startswith("linux"):
        assert found["syncfs"]
