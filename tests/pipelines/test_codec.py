"""How step outputs are encoded: Parquet that round-trips, dictionary-encoded where it pays."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steward.pipelines import codec


def _encodings(data: bytes) -> dict[str, tuple[str, ...]]:
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0)
    return {
        metadata.column(i).path_in_schema: metadata.column(i).encodings
        for i in range(metadata.num_columns)
    }


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
