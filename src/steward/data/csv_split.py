"""Cutting a large CSV file into row-aligned byte ranges, to parse them side by side.

Arrow's streaming CSV reader parses one block after another, on one core. A
file cut at row boundaries can be read by one reader per range instead, all
at once, each still streaming (bounded memory). A newline is a row boundary
only outside a quoted field; to stay exact without parsing, a file that holds
any quote character must be read whole: each range's reader looks for quotes
in the bytes it passes on (no pass of its own over the file) and, on seeing
one, says so and stops every range, so that the caller reads the file whole.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any


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
    cut too: read the ranges with ``FileRange`` and its ``quoted`` event.
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


class FileRange(io.RawIOBase):
    """A read-only stream of the bytes ``[start, end)`` of a file, watching for quotes.

    ``quoted`` is shared by the ranges of one file: set when any of them
    reads a quote character, after which every range reads as ended.
    """

    def __init__(self, path: Path, start: int, end: int, quoted: threading.Event) -> None:
        self._handle = path.open("rb", buffering=0)
        self._handle.seek(start)
        self._left = end - start
        self._quoted = quoted

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (b"" at the end, or once any range saw a quote)."""
        if self._quoted.is_set():
            return b""
        wanted = self._left if size < 0 else min(size, self._left)
        data = self._handle.read(wanted) or b""
        self._left -= len(data)
        if b'"' in data:
            self._quoted.set()
            return b""
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._handle.close()
        super().close()
