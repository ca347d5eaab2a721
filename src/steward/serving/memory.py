"""Giving memory back to the system once a model is loaded.

Loading a model allocates far more than it keeps: the package's files are
read and verified, ONNX Runtime builds and optimises its graph, the warm-up
batch runs. glibc keeps those freed pages in its heaps, so a server that just
loaded a model would hold them for its whole life. ``settle`` hides what is
loaded from the garbage collector (``gc.freeze``: its full collections then walk
only what requests create, which keeps their pauses out of the latency tail)
and asks glibc to return its free pages (``malloc_trim``). Elsewhere than glibc
the trim is skipped.
"""

from __future__ import annotations

import gc

from steward.libc import libc


def trim() -> bool:
    """Return the C heap's free pages to the system; False where that is not possible."""
    lib = libc()
    if lib is None or not hasattr(lib, "malloc_trim"):
        return False
    lib.malloc_trim(0)
    return True


def settle() -> None:
    """After a load: collect, freeze what survives, and trim the heap.

    What an earlier ``settle`` froze is unfrozen first, so a version retired by
    a reload — cycles included — is collected rather than kept for good.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    trim()


def resident_bytes() -> int:
    """This process's resident memory (0 where ``/proc`` cannot tell)."""
    import os

    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
