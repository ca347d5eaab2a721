from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from steward.data import csv_split
from steward.data.csv_split import MappedRanges, holds_quote, row_aligned_ranges


@pytest.mark.parametrize("with_memchr", [True, False])
def test_a_quote_is_found_anywhere_in_a_buffer_with_or_without_memchr(
    with_memchr: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not with_memchr:
        monkeypatch.setattr(csv_split, "_memchr", lambda: None)
    monkeypatch.setattr(csv_split, "_FALLBACK_STEP", 7)  # the fallback's slices end mid-buffer
    data = b"id,name\n" + b"1,plain\n" * 50
    assert not holds_quote(pa.py_buffer(data))
    assert not holds_quote(pa.py_buffer(b""))
    for at in (0, 7, 8, len(data) - 1):
        quoted = data[:at] + b'"' + data[at + 1 :]
        assert holds_quote(pa.py_buffer(quoted)), at
        assert not holds_quote(pa.py_buffer(quoted).slice(at + 1))


def test_mapped_ranges_read_their_bytes_and_stop_once_any_range_holds_a_quote(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n" + b"1,x\n" * 100 + b'2,"y"\n' + b"3,z\n" * 100)
    ranges = row_aligned_ranges(path, 3)
    assert len(ranges) == 3
    with MappedRanges(path) as mapped:
        first = mapped.reader(*ranges[0])
        assert first is not None and first.read() == path.read_bytes()[: ranges[0][1]]
        assert not mapped.quoted.is_set()
        assert list(mapped.until_quoted(iter([1, 2]))) == [1, 2]
        assert mapped.reader(*ranges[1]) is None  # the range with the quote
        assert mapped.quoted.is_set()
        assert mapped.reader(*ranges[2]) is None  # no quote of its own: stopped all the same
        assert list(mapped.until_quoted(iter([1, 2]))) == []
