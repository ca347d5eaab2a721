"""Cutting a large CSV file into row-aligned byte ranges, to parse them side by side.

Arrow's streaming CSV reader parses one block after another, on one core. A
file cut at row boundaries can be read by one reader per range instead, all
at once, each still streaming (bounded memory). A newline is a row boundary
only outside a quoted field; to stay exact without parsing, files that hold
any quote character are not cut at all.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

SCAN_BLOCK = 8 << 20


def _has_quotes(path: Path) -> bool:
    with path.open("rb", buffering=0) as handle:
        while block := handle.read(SCAN_BLOCK):
            if b'"' in block:
                return True
    return False


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
    when the file holds a quote character, has too few lines, or ``parts`` < 2.
    """
    size = path.stat().st_size
    whole = [(0, size)]
    if parts < 2 or _has_quotes(path):
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
    """A read-only stream of the bytes ``[start, end)`` of a file."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        self._handle = path.open("rb", buffering=0)
        self._handle.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target)[: self._left]
        if not view:
            return 0
        count = self._handle.readinto(view) or 0
        self._left -= count
        return count

    def close(self) -> None:
        self._handle.close()
        super().close()
