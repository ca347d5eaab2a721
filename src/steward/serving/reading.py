"""Reading the prediction log back, joined with feedback labels, for monitoring."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from steward.workspace import Workspace


def _ms(value: datetime | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def read_predictions(
    model: str,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    *,
    workspace: Workspace | None = None,
) -> pd.DataFrame:
    """The logged predictions of ``model`` in ``[since, until)``, with their labels.

    Args:
        model: the served model's name.
        since: the earliest prediction time (aware datetime or ISO text; naive means UTC).
        until: the end of the window (exclusive).
        workspace: the stores to read (default: the current workspace; for a bundle
            server, ``steward.open_workspace(home=LOG_DIR)``).

    Returns:
        One row per logged prediction, oldest first: ``request_id``, ``timestamp``,
        ``model``, ``version``, ``route``, ``protocol``, ``latency_ms``, ``entity_id``,
        ``correlation_id``, ``prediction``, ``probabilities``, the inputs as
        ``input.<column>``, and ``label`` / ``label_received_at`` (missing until
        feedback arrives).
    """
    import pandas as pd
    import pyarrow.parquet as pq

    from steward.workspace import current_workspace

    workspace = workspace or current_workspace()
    since_ms, until_ms = _ms(since), _ms(until)
    segments = workspace.store.serving.list_segments(model, since_ms, until_ms)
    parts = [
        pq.read_table(io.BytesIO(workspace.blobs.get_bytes(segment.blob_digest))).to_pandas()
        for segment in segments
    ]
    if not parts:
        return pd.DataFrame(
            columns=[
                "request_id", "timestamp", "model", "version", "route", "prediction",
                "label", "label_received_at",
            ]
        )  # fmt: skip
    frame = pd.concat(parts, ignore_index=True)
    if since_ms is not None:
        frame = frame[frame["timestamp"] >= pd.Timestamp(since_ms, unit="ms", tz="UTC")]
    if until_ms is not None:
        frame = frame[frame["timestamp"] < pd.Timestamp(until_ms, unit="ms", tz="UTC")]
    labels = workspace.store.serving.feedback(model, since_ms, until_ms)
    by_id = {label.request_id: label for label in labels}
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame["label"] = pd.Series(
        [
            json.loads(by_id[rid].label_json) if rid in by_id else None
            for rid in frame["request_id"]
        ],
        dtype=object,
        index=frame.index,
    )
    frame["label_received_at"] = pd.to_datetime(
        [by_id[rid].received_at if rid in by_id else None for rid in frame["request_id"]], utc=True
    )
    return frame
