"""The C library, reached through ctypes, for the few calls Python's ``os`` lacks.

Used for ``syncfs`` and ``sync_file_range`` (durable blob writes, Linux) and
``malloc_trim`` (giving a server's freed heap back, glibc). Callers check
that the function they need exists: elsewhere they do without it.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache
from typing import Any


@cache
def libc() -> Any:
    """The C library (errors in ``ctypes.get_errno``), or None where it cannot be loaded.

    On POSIX systems the interpreter already has it loaded, and the process's own
    symbols (``CDLL(None)``) include it: ``ctypes.util.find_library`` would start
    ``ldconfig`` (or a compiler) as a child process to find its name, milliseconds on
    a busy machine. Elsewhere the library is looked up by name.
    """
    try:
        if os.name == "posix":
            return ctypes.CDLL(None, use_errno=True)
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c") or None, use_errno=True)
    except OSError:
        return None
