"""Cutting a large CSV file into row-aligned byte ranges, to parse them side by side.

Arrow's streaming CSV reader parses one block after another, on one core. A
file cut at row boundaries can be read by one reader per range instead, all
at once, each still streaming (bounded memory). The file is memory-mapped:
each range is a slice of the page cache, handed to its reader without a copy.
A newline is a row boundary only outside a quoted field; to stay exact
without parsing, a file that holds any quote character must be read whole:
each range is searched for a quote (``memchr``, in its reader's thread)
before it is parsed, and a range that finds one says so, which stops every
range, so that the caller reads the file whole.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from steward.libc import libc


def _next_row_start(handle: Any, offset: int) -> int | None:
    """The offset just after the first newline at or after ``offset`` (None: none)."""
    handle.seek(offset)
    position = offset
    while block := handle.read(1 << 16):
        newline = block.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(block)
    return None


def row_aligned_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """About ``parts`` byte ranges ``[start, end)`` of ``path`` covering it, cut after newlines.

    The first range starts at 0 (with the header). One range (the whole file)
    when the file has too few lines, or ``parts`` < 2. A file with quotes is
    cut too: read the ranges with ``MappedRanges``, which watches for quotes.
    """
    size = path.stat().st_size
    whole = [(0, size)]
    if parts < 2:
        return whole
    starts = [0]
    with path.open("rb") as handle:
        for part in range(1, parts):
            start = _next_row_start(handle, max(size * part // parts, starts[-1]))
            if start is None or start >= size:
                break
            if start > starts[-1]:
                starts.append(start)
    return list(zip(starts, [*starts[1:], size], strict=True))


_FALLBACK_STEP = 16 << 20
"""Bytes copied out at a time to look for a quote where the C library has no ``memchr``."""


@cache
def _memchr() -> Any:
    """The C library's ``memchr`` (it releases the GIL), or None where there is none;
    its argument types are set once, not by every range that looks for a quote."""
    function = getattr(libc(), "memchr", None)
    if function is not None:
        function.restype = ctypes.c_void_p
        function.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
    return function


def holds_quote(buffer: Any) -> bool:
    """Whether an Arrow buffer holds a double quote character."""
    memchr = _memchr()
    if memchr is not None:
        return buffer.size > 0 and memchr(buffer.address, ord('"'), buffer.size) is not None
    return any(
        b'"' in buffer.slice(offset, min(_FALLBACK_STEP, buffer.size - offset)).to_pybytes()
        for offset in range(0, buffer.size, _FALLBACK_STEP)
    )


class MappedRanges:
    """Ranges of one memory-mapped file, each read without a copy, watching for quotes.

    ``quoted`` is set when any range holds a quote character; from then on
    every range reads as ended (see ``reader`` and ``until_quoted``).
    """

    def __init__(self, path: Path) -> None:
        import pyarrow as pa

        self._map = pa.memory_map(os.fspath(path))
        self._buffer = self._map.read_buffer()
        self.quoted = threading.Event()

    def reader(self, start: int, end: int) -> Any | None:
        """An Arrow stream of the bytes ``[start, end)``; None if the file holds a quote."""
        import pyarrow as pa

        part = self._buffer.slice(start, end - start)
        if not self.quoted.is_set() and holds_quote(part):
            self.quoted.set()
        return None if self.quoted.is_set() else pa.BufferReader(part)

    def until_quoted(self, batches: Iterable[Any]) -> Iterator[Any]:
        """``batches``, stopped as soon as any range has found a quote."""
        for batch in batches:
            if self.quoted.is_set():
                return
            yield batch

    def close(self) -> None:
        """Unmap the file (once no buffer of it is left)."""
        self._buffer = None
        self._map.close()

    def __enter__(self) -> MappedRanges:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
