"""Storing a prediction-log segment: one path for served row groups and scored chunks.

A segment is one Parquet file of log rows (built by ``entries_table`` for
served requests, ``batch_log.segment_table`` for a scored chunk) stored in the
blob store and indexed by the ranges of its request ids — one index row per
answered row group or scored chunk, never one per id (see
``steward.store.serving``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from steward.store.serving import PredictionSegment
    from steward.workspace import Workspace


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as Parquet, dictionary-encoding only its text columns other than request
    ids: trying a dictionary on every float column cost three times the rest of the
    write (100,000 distinct floats cost more than the model did)."""
    import pyarrow.parquet as pq
    import pyarrow.types as types

    text = [
        field.name
        for field in table.schema
        if (types.is_string(field.type) or types.is_large_string(field.type))
        and field.name != "request_id"
    ]
    buffer = io.BytesIO()
    pq.write_table(table, buffer, use_dictionary=text)
    return buffer.getvalue()


def store_segment(
    workspace: Workspace,
    model: str,
    version: int | None,
    day: str,
    table: pa.Table,
    ranges: Sequence[tuple[str, int, int]],
) -> PredictionSegment:
    """Write ``table`` (the log rows of one model version and UTC day) as a blob and index
    it by its request ids' ranges ``(prefix, row_count, at)``."""
    digest = workspace.blobs.put_bytes(parquet_bytes(table)).digest
    return workspace.store.serving.add_range_segment(model, version, day, digest, ranges)
