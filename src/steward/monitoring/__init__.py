"""Monitoring: drift, data quality, performance, alerts and reports.

A plain library for batch users::

    result = steward.monitoring.drift(reference_df, current_df, prediction="score")
    result.drifted, result.dataset_drift, result.to_pandas(), result.to_html("report.html")

Names are imported on first use so that ``steward.monitoring.alerts`` (and the
``steward alerts`` command) do not pull in NumPy, pandas or SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steward.monitoring.alerts import Alert, AlertManager, ack, list_alerts
    from steward.monitoring.channels import AlertChannel, channel, register_channel
    from steward.monitoring.drift import drift
    from steward.monitoring.estimated import EstimatedPerformance, estimate_performance
    from steward.monitoring.performance import PerformanceResult, performance
    from steward.monitoring.quality import QualityResult, quality
    from steward.monitoring.report import write_report
    from steward.monitoring.result import DriftResult, FeatureDrift, SchemaChanges
    from steward.monitoring.rules import Rule, parse_rule
    from steward.monitoring.summary import DatasetSummary, summarize

_EXPORTS = {
    "Alert": "alerts",
    "AlertChannel": "channels",
    "AlertManager": "alerts",
    "DatasetSummary": "summary",
    "DriftResult": "result",
    "EstimatedPerformance": "estimated",
    "FeatureDrift": "result",
    "PerformanceResult": "performance",
    "QualityResult": "quality",
    "Rule": "rules",
    "SchemaChanges": "result",
    "ack": "alerts",
    "channel": "channels",
    "drift": "drift",
    "estimate_performance": "estimated",
    "list_alerts": "alerts",
    "parse_rule": "rules",
    "performance": "performance",
    "quality": "quality",
    "register_channel": "channels",
    "summarize": "summary",
    "write_report": "report",
}

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertManager",
    "DatasetSummary",
    "DriftResult",
    "EstimatedPerformance",
    "FeatureDrift",
    "PerformanceResult",
    "QualityResult",
    "Rule",
    "SchemaChanges",
    "ack",
    "channel",
    "drift",
    "estimate_performance",
    "list_alerts",
    "parse_rule",
    "performance",
    "quality",
    "register_channel",
    "summarize",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'steward.monitoring' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"steward.monitoring.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
