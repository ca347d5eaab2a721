"""Batch scoring's log segments are laid out as served ones are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steward.serving.batch_log import segment_table
from steward.serving.prediction_log import LogEntry, entries_table
from steward.serving.segments import parquet_bytes


def test_a_chunk_segment_has_the_columns_and_types_of_a_served_segment() -> None:
    frame = pd.DataFrame({"a": [0.5, -1.0, 2.0], "b": [1, 2, 3], "kind": ["x", "y", None]})
    ids = ["job-00000-00000-0", "job-00000-00000-1", "job-00000-00000-2"]
    served = entries_table(
        [
            LogEntry(
                model="triage",
                version=3,
                route="batch",
                protocol="batch",
                time_ms=1_700_000_000_000,
                latency_ms=0.25,
                request_ids=ids,
                inputs=frame,
                predictions=np.array([1, 0, 1]),
            )
        ]
    )
    batch = segment_table(
        model="triage",
        version=3,
        route="batch",
        time_ms=1_700_000_000_000,
        latency_ms=0.25,
        request_ids=pa.array(ids),
        predictions=pa.array(np.array([1, 0, 1])),
        inputs=pa.Table.from_pandas(frame, preserve_index=False),
    )
    assert batch.schema.remove_metadata() == served.schema.remove_metadata()
    assert batch.to_pylist() == served.to_pylist()
    assert pq.read_table(pa.BufferReader(parquet_bytes(batch))).equals(batch)
