"""The C library, reached through ctypes, for the few calls Python's ``os`` lacks.

Used for ``syncfs`` and ``sync_file_range`` (durable blob writes, Linux) and
``malloc_trim`` (giving a server's freed heap back, glibc). Callers check
that the function they need exists: elsewhere they do without it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def libc() -> Any:
    """The C library (errors in ``ctypes.get_errno``), or None where it cannot be loaded."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None
