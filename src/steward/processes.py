"""Facts about processes on this host, for records that name a host and a pid (a pipeline
run, the agent lease): is the process that wrote them still there?"""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
