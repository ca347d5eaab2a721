"""Arrow columns from buffers equal what ``pyarrow.array`` makes of the same values."""

from __future__ import annotations

import io
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from steward.serving import arrow_columns
from steward.serving.prediction_log import LogEntry, entries_table


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.5, math.nan, -math.inf, 0.0]),
        np.array([3, -2, 2**40], dtype=np.int64),
        np.array([1, 2, 3], dtype=np.uint8),
        np.array([True, False, True, True, False, False, True, False, True]),
        np.array([], dtype=np.float64),
        np.arange(12, dtype=np.float32).reshape(3, 4)[:, 1],  # a strided column
    ],
)
def test_numbers_match_pyarrow(values: np.ndarray) -> None:
    built = arrow_columns.numbers(values)
    built.validate(full=True)
    expected = pa.array(values)  # pyarrow's own conversion, widened as ours is
    widened = {"i": pa.int64(), "u": pa.uint64()}.get(values.dtype.kind)
    if widened is not None:
        expected = expected.cast(widened)
    assert built.type == expected.type
    got, want = built.to_pylist(), expected.to_pylist()
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize(("value", "rows"), [(7, 5), (-(2**40), 3), (None, 4), (3, 0)])
def test_a_repeated_integer_matches_pyarrow(value: int | None, rows: int) -> None:
    built = arrow_columns.repeated_integer(value, rows)
    built.validate(full=True)
    assert built.equals(pa.array([value] * rows, pa.int64()))


def test_strings_runs_times_optional_integers_and_lists() -> None:
    names = ["a", None, "épidémie", "", "🩺"]
    assert arrow_columns.strings(names).to_pylist() == names
    assert arrow_columns.strings([]).to_pylist() == []
    times = [1_700_000_000_000, 1_700_000_000_001]
    assert arrow_columns.timestamps_ms(times).equals(pa.array(times, pa.timestamp("ms", tz="UTC")))
    valid = np.array([True, False, True])
    assert arrow_columns.numbers(np.array([1, 0, 3]), valid).to_pylist() == [1, None, 3]
    runs = arrow_columns.string_runs(["batch", None, "é", "x"], [3, 2, 1, 0])
    runs.validate(full=True)
    assert runs.to_pylist() == ["batch"] * 3 + [None, None, "é"]
    assert arrow_columns.string_runs(["é"], [0]).to_pylist() == []
    blocks = [np.array([[0.25, 0.75], [1.0, math.nan]]), None, np.zeros((1, 3)), np.zeros((1, 0))]
    lists = arrow_columns.float_rows(blocks, [2, 2, 1, 1])
    lists.validate(full=True)
    got = lists.to_pylist()
    assert got[0] == [0.25, 0.75] and got[2:4] == [None, None] and got[4:] == [[0.0] * 3, []]
    assert got[1][0] == 1.0 and math.isnan(got[1][1])
    assert arrow_columns.float_rows([None], [2]).to_pylist() == [None, None]
    assert arrow_columns.outputs([np.array(["yes"]), np.array(["no"])]).to_pylist() == [
        "yes", "no",
    ]  # fmt: skip
    assert arrow_columns.outputs([np.array([0.5, 1.0])]).to_pylist() == [0.5, 1.0]


def test_a_table_of_them_round_trips_through_parquet() -> None:
    table = pa.Table.from_arrays(
        [
            arrow_columns.strings(["r1", "r2", None]),
            arrow_columns.numbers(np.array([0.1, math.nan, 2.0])),
            arrow_columns.float_rows([np.array([[0.2, 0.8]]), None, np.array([[1.0]])], [1, 1, 1]),
        ],
        names=["id", "x", "p"],
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    back = pq.read_table(io.BytesIO(buffer.getvalue()))
    assert back.column("id").to_pylist() == ["r1", "r2", None]
    assert math.isnan(back.column("x").to_pylist()[1])  # NaN stays NaN, not null
    assert back.column("p").to_pylist() == [[0.2, 0.8], None, [1.0]]


def _entry(inputs: object, predictions: object, **extra: object) -> LogEntry:
    rows = len(predictions)  # type: ignore[arg-type]
    return LogEntry(
        model="m", version=1, route="primary", protocol="mlflow", time_ms=1_700_000_000_000,
        latency_ms=1.0, request_ids=[f"r{i}-{id(inputs)}" for i in range(rows)],
        inputs=inputs, predictions=predictions, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_log_tables_keep_every_kind_of_output_and_the_signature_types() -> None:
    import pandas as pd

    arrays = np.array([[1.0, 2.0], [3.0, 4.0]])
    typed = dict(input_names=["visits", "dose"], input_dtypes=["int64", "float32"])
    table = entries_table([_entry(arrays, np.array([0.5, 1.5]), **typed)])
    assert table.schema.field("input.visits").type == pa.int64()
    assert table.schema.field("input.dose").type == pa.float32()
    assert table.column("input.visits").to_pylist() == [1, 3]

    multi = entries_table([_entry(arrays, np.array([[1.0, 2.0], [3.0, 4.0]]))])  # 2 outputs
    assert multi.column("prediction").to_pylist() == [[1.0, 2.0], [3.0, 4.0]]
    labels = entries_table([_entry(arrays, np.array(["sick", "well"], dtype=object))])
    assert labels.column("prediction").to_pylist() == ["sick", "well"]
    objects = entries_table([_entry(arrays, np.array([1.5, None], dtype=object))])
    assert objects.column("prediction").type == pa.float64()
    assert objects.column("prediction").to_pylist() == [1.5, None]
    wide = np.array([[2**64 - 1]], dtype=np.uint64)
    assert entries_table([_entry(wide, np.array([1]))]).column("input.0").to_pylist() == [2**64 - 1]
    # Array rows and DataFrame rows in one segment (records and instances requests).
    frame = pd.DataFrame({"visits": [5], "dose": [0.25]})
    mixed = entries_table([_entry(arrays, np.array([1, 2]), **typed), _entry(frame, np.array([3]))])
    assert mixed.column("input.visits").to_pylist() == [1, 3, 5]
    assert mixed.column("prediction").to_pylist() == [1, 2, 3]


def test_a_batch_of_array_and_frame_rows_is_one_array() -> None:
    import pandas as pd

    from steward.serving.batching import _combine

    combined = _combine([np.array([[1.0, 2.0]]), pd.DataFrame({"a": [3.0], "b": [4]})])
    np.testing.assert_array_equal(combined, [[1.0, 2.0], [3.0, 4.0]])
