"""The prediction log's write for batch scoring: one chunk, one segment, built in Arrow.

A served request group becomes log rows through ``LogEntry`` (Python lists,
a few rows at a time). A scored chunk holds 100,000s of rows that are
already Arrow columns, so its segment is assembled column by column without
a Python object per row: constant columns from repeated buffers, the
model's inputs taken over as they were read, request ids as computed. The
segment has the columns and types of the served log's (``entries_table``),
so monitors and late labels read both alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.serving import arrow_columns
from steward.serving.prediction_log import INPUT_PREFIX
from steward.serving.segments import store_segment

if TYPE_CHECKING:
    import pyarrow as pa

    from steward.workspace import Workspace


def segment_table(
    *,
    model: str,
    version: int | None,
    route: str,
    time_ms: int,
    latency_ms: float,
    request_ids: pa.Array | pa.ChunkedArray,
    predictions: pa.Array | pa.ChunkedArray,
    inputs: pa.Table,
) -> pa.Table:
    """The log rows of one scored chunk, as the served log lays them out.

    Args:
        route: the route and protocol of every row (``batch``).
        inputs: the columns the model saw, named as in its signature.
    """
    import numpy as np
    import pyarrow as pa

    rows = len(request_ids)
    columns: dict[str, Any] = {
        "request_id": request_ids,
        "timestamp": pa.Array.from_buffers(
            pa.timestamp("ms", tz="UTC"),
            rows,
            [None, pa.py_buffer(np.full(rows, time_ms, dtype=np.int64))],
        ),
        "model": arrow_columns.string_runs([model], [rows]),
        "version": arrow_columns.repeated_integer(version, rows),
        "route": arrow_columns.string_runs([route], [rows]),
        "protocol": arrow_columns.string_runs([route], [rows]),
        "latency_ms": arrow_columns.numbers(np.full(rows, latency_ms, dtype=np.float64)),
        "entity_id": pa.nulls(rows, pa.string()),
        "correlation_id": pa.nulls(rows, pa.string()),
        "prediction": predictions,
        "probabilities": pa.nulls(rows, pa.list_(pa.float64())),
    }
    for name, column in zip(inputs.column_names, inputs.columns, strict=True):
        columns[f"{INPUT_PREFIX}{name}"] = column
    return pa.table(columns)


def log_chunk(
    workspace: Workspace,
    day: str,
    prefix: str,
    table: pa.Table,
) -> None:
    """Store a chunk's segment (``segment_table``) and index its request ids
    (``prefix + "0"`` … in row order) as one range."""
    model = table.column("model")[0].as_py()
    version = table.column("version")[0].as_py()
    at = int(table.column("timestamp")[0].value)
    store_segment(workspace, model, version, day, table, [(prefix, table.num_rows, at)])
