from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.data.profile import TableProfile, profile_csv, profile_table
from steward.data.sketches import SKETCH_RELATIVE_ACCURACY
from steward.errors import InvalidInput
from tests.data.conftest import write_csv

numbers = st.lists(
    st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), min_size=0, max_size=60
)
words = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "", "dd"])), max_size=60)


@settings(max_examples=60, deadline=None)
@given(numbers, numbers, words, words)
def test_merged_profile_of_parts_equals_profile_of_whole(
    x1: list[float | None], x2: list[float | None], w1: list[str | None], w2: list[str | None]
) -> None:
    n1, n2 = min(len(x1), len(w1)), min(len(x2), len(w2))
    part1 = pa.table({"x": pa.array(x1[:n1], pa.float64()), "w": pa.array(w1[:n1], pa.string())})
    part2 = pa.table({"x": pa.array(x2[:n2], pa.float64()), "w": pa.array(w2[:n2], pa.string())})
    whole = profile_table(pa.concat_tables([part1, part2]))
    merged = profile_table(part1).merge(profile_table(part2))
    assert merged.rows == whole.rows
    for name in ("x", "w"):
        a, b = merged.column(name), whole.column(name)
        assert (a.count, a.nulls, a.distinct, a.top, a.other) == (
            b.count,
            b.nulls,
            b.distinct,
            b.top,
            b.other,
        )
        assert a.min == b.min and a.max == b.max
    x_merged, x_whole = merged.column("x"), whole.column("x")
    if x_whole.count:
        assert math.isclose(x_merged.mean, x_whole.mean, rel_tol=1e-9, abs_tol=1e-6)
    if x_whole.count > 1:
        assert math.isclose(x_merged.std, x_whole.std, rel_tol=1e-6, abs_tol=1e-6)
    assert x_merged.sketch == x_whole.sketch
    assert x_merged.quantiles() == x_whole.quantiles()
    # round trip through JSON keeps the merge state
    assert TableProfile.from_json(merged.to_json()) == merged


def test_quantiles_are_within_the_sketch_error() -> None:
    values = np.random.default_rng(1).lognormal(size=20_000)
    column = profile_table(pa.table({"v": values})).column("v")
    for name, estimate in column.quantiles().items():
        q = int(name[1:]) / 100
        true = float(np.quantile(values, q, method="lower"))
        assert abs(estimate - true) <= 2 * SKETCH_RELATIVE_ACCURACY * abs(true) + 1e-9
    histogram = column.histogram()
    assert sum(histogram["counts"]) == 20_000
    assert column.distinct == pytest.approx(20_000, rel=0.05)


def test_csv_profile_streams_and_matches_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data import profile

    monkeypatch.setattr(profile, "CSV_BLOCK_SIZE", 4096)  # many blocks
    path = write_csv(tmp_path / "t.csv", 3000)
    streamed = profile_csv(path)
    import pyarrow.csv as pacsv

    whole = profile_table(pacsv.read_csv(path))
    assert streamed.rows == 3000
    assert [c.name for c in streamed.columns] == ["id", "value", "group"]
    assert streamed.column("value").mean == pytest.approx(whole.column("value").mean)
    assert streamed.column("group").top == {"a": 1000, "b": 1000, "c": 1000}


def test_a_large_csv_read_as_ranges_side_by_side_gives_the_same_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data import csv_split, profile

    monkeypatch.setattr(profile, "CSV_BLOCK_SIZE", 4096)
    path = write_csv(tmp_path / "t.csv", 5000)
    serial = profile_csv(path)
    monkeypatch.setattr(profile, "PARALLEL_CSV_MIN", 0)
    cut_into: list[int] = []

    def cut(path: Path, parts: int) -> list[tuple[int, int]]:
        cut_into.append(parts)
        return csv_split.row_aligned_ranges(path, parts)

    monkeypatch.setattr(profile, "row_aligned_ranges", cut)
    monkeypatch.setattr(profile, "worker_count", lambda: 1)
    assert profile_csv(path) == serial and cut_into == [1]  # 1 core: one reader
    monkeypatch.setattr(profile, "worker_count", lambda: 3)
    ranges = csv_split.row_aligned_ranges(path, 3)
    assert len(ranges) == 3 and ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    assert all(path.read_bytes()[start - 1 : start] == b"\n" for start, _ in ranges[1:])
    parallel = profile_csv(path)
    assert cut_into == [1, 3]
    assert parallel.rows == serial.rows == 5000
    for ours, theirs in zip(parallel.columns, serial.columns, strict=True):
        exact = ("name", "dtype", "count", "nulls", "distinct", "min", "max", "top")
        assert {k: getattr(ours, k) for k in exact} == {k: getattr(theirs, k) for k in exact}
        assert ours.sketch == theirs.sketch
        assert (ours.mean, ours.std) == pytest.approx((theirs.mean, theirs.std))

    # a value that widens its column in a later range: widened, as in one pass
    widened = tmp_path / "w.csv"
    widened.write_text("n,s\n" + "1,x\n" * 3000 + "2.5,y\n")
    assert profile_csv(widened).column("n").max == 2.5
    # a malformed row in a later range: the error names its line, as in one pass
    broken = tmp_path / "b.csv"
    broken.write_text("a,b\n" + "1,2\n" * 3000 + "3,4,5\n")
    with pytest.raises(InvalidInput, match=r"b\.csv line 3002"):
        profile_csv(broken)
    # quotes may hide newlines: a range that meets one stops them all, and the file is
    # read whole (here a cut lands inside a quoted value, and the header is plain)
    quoted = tmp_path / "q.csv"
    quoted.write_text("a,b\n" + "0,plain\n" * 1500 + '1,"two\nlines"\n' * 2000)
    assert len(csv_split.row_aligned_ranges(quoted, 3)) == 3
    read_whole = profile_csv(quoted)
    assert read_whole.rows == 3500 and read_whole.column("b").top["two\nlines"] == 2000


def test_a_csv_read_again_with_its_first_block_types_gives_the_same_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data import profile

    monkeypatch.setattr(profile, "CSV_BLOCK_SIZE", 4096)
    path = write_csv(tmp_path / "t.csv", 5000)
    inferred = profile_csv(path)  # smaller than RETYPED_CSV_MIN: one inferring reader
    monkeypatch.setattr(profile, "RETYPED_CSV_MIN", 0)
    assert profile_csv(path) == inferred
    # what a later block holds still widens its column, or names its line
    widened = tmp_path / "w.csv"
    widened.write_text("n,s,e\n" + "1,x,\n" * 3000 + "2.5,y,z\n")
    result = profile_csv(widened)
    assert [c.dtype for c in result.columns] == ["double", "string", "string"]
    assert result.column("n").max == 2.5 and result.column("e").top == {"": 3000, "z": 1}
    monkeypatch.setattr(profile, "RETYPED_CSV_MIN", 1 << 40)
    assert profile_csv(widened) == result
    monkeypatch.setattr(profile, "RETYPED_CSV_MIN", 0)
    broken = tmp_path / "b.csv"
    broken.write_text("a,b\n" + "1,2\n" * 3000 + "3,4,5\n")
    with pytest.raises(InvalidInput, match=r"b\.csv line 3002"):
        profile_csv(broken)
    broken.write_bytes(b"a,b\n" + b"1,x\n" * 3000 + b"3,\xff\n")
    with pytest.raises(InvalidInput, match=r"b\.csv line 3002 .*UTF8"):
        profile_csv(broken)
    # types are told by name: a header naming a column twice is read as before
    twice = tmp_path / "twice.csv"
    twice.write_text("a,a\n" + "x,1\n" * 3000)
    retyped = profile_csv(twice)
    monkeypatch.setattr(profile, "RETYPED_CSV_MIN", 1 << 40)
    assert profile_csv(twice) == retyped


def test_a_csv_is_read_into_the_system_allocator_not_arrows_default_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrow's default pool (mimalloc) re-faults fresh huge pages block after block.
    from steward.data import profile

    monkeypatch.setattr(profile, "CSV_BLOCK_SIZE", 4096)
    path = write_csv(tmp_path / "t.csv", 3000)
    pool, default = profile.table_memory_pool(), pa.default_memory_pool()
    assert pool.backend_name == "system"
    held_before, default_before = pool.bytes_allocated(), default.bytes_allocated()
    batches = list(profile.csv_batches(path))
    ids = sum(batch.column("id").nbytes for batch in batches)
    assert len(batches) > 5 and ids >= 3000 * 8
    assert pool.bytes_allocated() - held_before >= ids
    if default.backend_name != pool.backend_name:
        assert default.bytes_allocated() - default_before < ids
    assert profile.profile_batches(batches, batches[0].schema) == profile_csv(path)


def test_csv_column_that_widens_later_is_widened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data import profile

    monkeypatch.setattr(profile, "CSV_BLOCK_SIZE", 1024)
    path = tmp_path / "w.csv"
    path.write_text("n\n" + "1\n" * 2000 + "2.5\n")
    result = profile_csv(path)
    assert result.column("n").max == 2.5
    assert result.column("n").dtype == "double"


def test_a_csv_starting_with_a_byte_order_mark_widens_its_first_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data import profile

    monkeypatch.setattr(profile, "CSV_BLOCK_SIZE", 1024)
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfn,s\n" + b"1,x\n" * 2000 + b"2.5,y\n")
    result = profile_csv(path)
    assert [c.name for c in result.columns] == ["n", "s"]
    assert result.column("n").dtype == "double" and result.column("n").max == 2.5


def test_bad_csv_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(InvalidInput, match=r"bad\.csv line 4"):
        profile_csv(path)
    path.write_bytes(b"a,b\n1,x\n2,y\n3,\xff\xfe\n4,z\n")
    with pytest.raises(InvalidInput, match=r"bad\.csv line 4 .*UTF8"):
        profile_csv(path)


def test_infinities_count_as_missing_instead_of_breaking_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x\n1.5\ninf\n-inf\n2.5\nnan\n")
    profile = profile_csv(path).column("x")
    assert (profile.count, profile.nulls) == (2, 3)
    assert (profile.min, profile.max, profile.mean) == (1.5, 2.5, 2.0)
    assert profile.quantiles()["p50"] is not None


def test_adding_a_csv_does_not_import_pandas(tmp_path: Path) -> None:
    """pandas costs a second to import; a CSV's profile needs none of it."""
    import subprocess
    import sys

    write_csv(tmp_path / "t.csv", 500)
    code = (
        "import sys, steward.data\n"
        "from steward.workspace import open_workspace, use_workspace\n"
        f"use_workspace(open_workspace(home={str(tmp_path / 'home')!r}, actor='t'))\n"
        f"assert steward.data.add('d', {str(tmp_path / 't.csv')!r}).rows == 500\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "array",
    [
        pa.array([3, 1, 2], pa.int8()),
        pa.array([1.5, 2.5, 0.5], pa.float32()),
        pa.array([7, 8, 9, 10, 11], pa.uint64()).slice(1, 3),
        pa.array([1.25, None, 2.5], pa.float64()),
        pa.array([1, 2, None], pa.decimal128(5, 2)),
        pa.chunked_array([[1, 2], [3]], pa.int64()),
        pa.array([], pa.int32()),
    ],
)
def test_numeric_columns_of_every_width_profile_as_numpy_reads_them(array: Any) -> None:
    from steward.data.profile import profile_array

    profile = profile_array("x", array)
    values = [float(v) for v in array.to_pylist() if v is not None]
    assert (profile.count, profile.nulls) == (len(values), array.null_count)
    if values:
        assert (profile.min, profile.max) == (min(values), max(values))
        assert profile.mean == pytest.approx(sum(values) / len(values))
