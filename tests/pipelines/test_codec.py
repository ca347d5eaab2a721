"""How step outputs are encoded: small tables as Arrow IPC files, larger ones as Parquet
(dictionary-encoded where it pays), each read back as it was written."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from steward.pipelines import codec


@pytest.fixture
def parquet_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every table takes the Parquet path, however small."""
    monkeypatch.setattr(codec, "SMALL_TABLE_BYTES", -1)


def _encodings(data: bytes | memoryview) -> dict[str, tuple[str, ...]]:
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0)
    return {
        metadata.column(i).path_in_schema: metadata.column(i).encodings
        for i in range(metadata.num_columns)
    }


@pytest.mark.usefixtures("parquet_always")
def test_floats_are_written_plain_and_other_columns_with_a_dictionary() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "measure": rng.normal(size=5_000),
            "ratio": rng.random(5_000).astype("float32"),
            "code": rng.integers(0, 4, 5_000),
            "region": rng.choice(["north", "south", "east"], 5_000),
        }
    )
    encoded = codec.encode(frame, "make")
    assert encoded.data is not None
    encodings = _encodings(encoded.data)
    assert "RLE_DICTIONARY" not in encodings["measure"]
    assert "RLE_DICTIONARY" not in encodings["ratio"]
    assert "RLE_DICTIONARY" in encodings["code"]
    assert "RLE_DICTIONARY" in encodings["region"]
    pd.testing.assert_frame_equal(codec.decode(encoded.kind, encoded.data), frame)


@pytest.mark.usefixtures("parquet_always")
def test_a_table_with_nested_columns_keeps_dictionaries_on_its_leaves() -> None:
    table = pa.table(
        {
            "value": pa.array([0.5, 1.5] * 50),
            "point": pa.array([{"x": 1.0, "label": "a"}] * 100),
        }
    )
    encoded = codec.encode(table, "make")
    assert encoded.data is not None
    encodings = _encodings(encoded.data)
    assert "RLE_DICTIONARY" in encodings["point.label"]
    assert codec.decode(encoded.kind, encoded.data).equals(table)


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "measure": rng.normal(size=rows),
            "code": rng.integers(0, 4, rows),
            "region": rng.choice(["north", "south"], rows),
        },
        index=pd.RangeIndex(10, 10 + rows, name="row"),
    )


def test_small_tables_are_arrow_files_others_parquet() -> None:
    small = _frame(1_000)
    large = _frame(60_000)
    assert pa.Table.from_pandas(small).nbytes <= codec.SMALL_TABLE_BYTES
    assert pa.Table.from_pandas(large).nbytes > codec.SMALL_TABLE_BYTES
    small_data = codec.encode(small, "make").data
    large_data = codec.encode(large, "make").data
    assert small_data is not None and large_data is not None
    assert small_data[:6] == b"ARROW1" and large_data[:4] == b"PAR1"
    assert isinstance(small_data, memoryview)  # Arrow's buffer itself, not a copy of it
    # An Arrow IPC file is Feather v2: readable without Steward.
    assert feather.read_table(pa.BufferReader(small_data)).num_rows == 1_000
    pd.testing.assert_frame_equal(codec.decode("pandas", small_data), small)
    pd.testing.assert_frame_equal(codec.decode("pandas", large_data), large)


def test_a_small_table_is_encoded_to_the_same_bytes_each_time() -> None:
    """Same frame, same digest: the cache keys of its dependants depend on it."""
    first = codec.encode(_frame(500), "make").data
    assert first == codec.encode(_frame(500), "make").data
    assert first != codec.encode(_frame(501), "make").data


@pytest.mark.parametrize("small", [True, False])
def test_series_polars_and_arrow_tables_round_trip(
    small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not small:
        monkeypatch.setattr(codec, "SMALL_TABLE_BYTES", -1)
    series = pd.Series([1.5, 2.5, None], name=None)
    named = pd.Series(["a", "b", "c"], name="letter")
    polars_frame = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    table = pa.table({"a": [1, 2], "point": [{"x": 1.0}, {"x": 2.0}]})
    magic = b"ARROW1" if small else b"PAR1"
    for value in (series, named):
        encoded = codec.encode(value, "make")
        assert encoded.data is not None and encoded.data[: len(magic)] == magic
        pd.testing.assert_series_equal(codec.decode(encoded.kind, encoded.data), value)
    encoded = codec.encode(polars_frame, "make")
    assert encoded.kind == "polars" and encoded.data is not None
    assert encoded.data[: len(magic)] == magic
    assert codec.decode(encoded.kind, encoded.data).equals(polars_frame)
    encoded = codec.encode(table, "make")
    assert encoded.kind == "arrow" and encoded.data is not None
    assert encoded.data[: len(magic)] == magic
    assert codec.decode(encoded.kind, encoded.data).equals(table)


def test_a_small_frame_is_converted_without_a_thread_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow converts a frame of many rows on a pool of threads; for a small one
    starting the pool costs more than the conversion."""
    import threading

    started: list[str] = []
    start = threading.Thread.start

    def counting(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    frame = pd.DataFrame(np.random.default_rng(2).normal(size=(10_000, 10)))
    frame.columns = [f"x{i}" for i in range(10)]
    monkeypatch.setattr(threading.Thread, "start", counting)
    encoded = codec.encode(frame, "make")
    assert started == []
    assert encoded.data is not None
    pd.testing.assert_frame_equal(codec.decode(encoded.kind, encoded.data), frame)
