"""Monitor results as stored JSON, and the result objects rebuilt from it.

A window's full result is one JSON blob: drift (per column), quality,
performance, the current window's summary and the alerts it sent. The
reference summary is its own blob, so the windows of a monitor share one copy
(blobs are content-addressed). Exact-test samples are left out of stored
summaries: plots and trends need only the histograms and counts.
"""

from __future__ import annotations

import json
import math
from typing import Any

from steward.monitoring.checks.estimated import EstimatedPerformance
from steward.monitoring.checks.performance import MetricValue, PerformanceResult, SegmentPerformance
from steward.monitoring.checks.quality import ColumnQuality, QualityResult
from steward.monitoring.checks.result import DriftResult, FeatureDrift, SchemaChanges
from steward.monitoring.statistics.summary import DatasetSummary

FORMAT = 1


def summary_to_dict(summary: DatasetSummary) -> dict[str, Any]:
    """A summary's JSON form without the exact-test samples."""
    data = summary.to_dict()
    for column in data["columns"].values():
        if column.get("kind") == "numeric":
            column["sample"] = []
    return data


def dumps(data: Any) -> bytes:
    """Canonical JSON bytes (sorted keys; NaN as null) for the blob store."""
    return json.dumps(_plain(data), sort_keys=True, separators=(",", ":")).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return _plain(value.item())
    return value


def _number(value: Any) -> Any:
    if value == "Infinity":
        return math.inf
    if value == "-Infinity":
        return -math.inf
    return value


def _schema(data: dict[str, Any]) -> SchemaChanges:
    return SchemaChanges(
        missing=tuple(data.get("missing", ())),
        new=tuple(data.get("new", ())),
        retyped=tuple(
            (item["column"], item["reference"], item["current"]) for item in data.get("retyped", ())
        ),
    )


def quality_from_dict(data: dict[str, Any] | None) -> QualityResult | None:
    """Rebuild a ``QualityResult`` from its ``to_dict`` form."""
    if data is None:
        return None
    fields = set(ColumnQuality.__dataclass_fields__)
    columns = []
    for row in data["columns"]:
        values = {key: _number(value) for key, value in row.items() if key in fields}
        values["unseen_examples"] = tuple(values.get("unseen_examples", ()))
        values["notes"] = tuple(values.get("notes", ()))
        columns.append(ColumnQuality(**values))
    return QualityResult(
        rows=data["rows"],
        columns=tuple(columns),
        schema=_schema(data["schema"]),
        duplicate_rows=data.get("duplicate_rows"),
    )


def drift_from_dict(
    data: dict[str, Any],
    reference: DatasetSummary | None = None,
    current: DatasetSummary | None = None,
) -> DriftResult:
    """Rebuild a ``DriftResult`` from its ``to_dict`` form (and the window summaries)."""
    fields = set(FeatureDrift.__dataclass_fields__)
    features = []
    for row in data["features"]:
        values = {key: _number(value) for key, value in row.items() if key in fields}
        values["notes"] = tuple(values.get("notes", ()))
        features.append(FeatureDrift(**values))
    share = data.get("drift_share")
    return DriftResult(
        features=tuple(features),
        dataset_drift=bool(data["dataset_drift"]),
        drift_share=float("nan") if share is None else float(share),
        drift_share_threshold=float(data["drift_share_threshold"]),
        schema=_schema(data["schema"]),
        reference_rows=int(data["reference_rows"]),
        current_rows=int(data["current_rows"]),
        quality=quality_from_dict(data.get("quality")),
        reference_summary=reference,
        current_summary=current,
        notes=tuple(data.get("notes", ())),
    )


def performance_from_dict(data: dict[str, Any] | None) -> PerformanceResult | None:
    """Rebuild a ``PerformanceResult`` from its ``to_dict`` form."""
    if data is None:
        return None
    parts: dict[str | None, SegmentPerformance] = {}
    for row in data["rows"]:
        segment = None if row["segment"] == "(all)" else str(row["segment"])
        part = parts.get(segment) or SegmentPerformance(segment, int(row["rows"]), {})
        part.metrics[row["metric"]] = MetricValue(
            name=row["metric"],
            value=float("nan") if row["value"] is None else float(_number(row["value"])),
            lower=row.get("lower"),
            upper=row.get("upper"),
            method=row.get("interval"),
        )
        parts[segment] = part
    overall = parts.pop(None, SegmentPerformance(None, 0, {}))
    return PerformanceResult(
        task=data["task"],
        overall=overall,
        segments=tuple(parts.values()),
        segment_column=data.get("segment_column"),
        estimated=dict(data.get("estimated") or {}),
    )


def estimated_from_dict(data: dict[str, Any] | None) -> EstimatedPerformance | None:
    """Rebuild an ``EstimatedPerformance`` from its ``to_dict`` form."""
    if data is None:
        return None
    return EstimatedPerformance(
        rows=int(data["rows"]),
        estimated={k: float(_number(v)) for k, v in data["estimated"].items() if v is not None},
        realised={k: float(_number(v)) for k, v in data["realised"].items() if v is not None},
        calibrated=bool(data.get("calibrated")),
        notes=tuple(data.get("notes", ())),
    )
