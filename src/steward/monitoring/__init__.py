"""Monitoring: drift, data quality, performance, alerts and reports.

A plain library for batch users::

    result = steward.monitoring.drift(reference_df, current_df, prediction="score")
    result.drifted, result.dataset_drift, result.to_pandas(), result.to_html("report.html")

Importing this package loads NumPy and pandas; ``import steward`` does not
(``steward.monitoring`` is imported on first access). Plotly and SciPy are
imported only by the calls that need them.
"""

from __future__ import annotations

from steward.monitoring.alerts import Alert, AlertManager, ack, list_alerts
from steward.monitoring.channels import AlertChannel, channel, register_channel
from steward.monitoring.drift import drift
from steward.monitoring.estimated import EstimatedPerformance, estimate_performance
from steward.monitoring.events import events
from steward.monitoring.monitor import (
    Monitor,
    MonitorResult,
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
    monitor_results,
    run_monitor,
)
from steward.monitoring.performance import PerformanceResult, performance
from steward.monitoring.quality import QualityResult, quality
from steward.monitoring.reference import summary_from_profile
from steward.monitoring.report import write_monitor_report, write_report
from steward.monitoring.result import DriftResult, FeatureDrift, SchemaChanges
from steward.monitoring.rules import Rule, parse_rule
from steward.monitoring.schedule import parse_cron, parse_window
from steward.monitoring.summary import DatasetSummary, summarize

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertManager",
    "DatasetSummary",
    "DriftResult",
    "EstimatedPerformance",
    "FeatureDrift",
    "Monitor",
    "MonitorResult",
    "PerformanceResult",
    "QualityResult",
    "Rule",
    "SchemaChanges",
    "ack",
    "channel",
    "create_monitor",
    "delete_monitor",
    "drift",
    "estimate_performance",
    "events",
    "get_monitor",
    "list_alerts",
    "list_monitors",
    "monitor_results",
    "parse_cron",
    "parse_rule",
    "parse_window",
    "performance",
    "quality",
    "register_channel",
    "run_monitor",
    "summarize",
    "summary_from_profile",
    "write_monitor_report",
    "write_report",
]
