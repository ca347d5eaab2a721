"""Monitoring: drift, data quality, performance, alerts and reports.

A plain library for batch users::

    result = steward.monitoring.drift(reference_df, current_df, prediction="score")
    result.drifted, result.dataset_drift, result.to_pandas(), result.to_html("report.html")

The package is layered, each sub-package importing only those before it::

    statistics  reading windows, mergeable summaries, tests and distances
    checks      drift, quality, performance (realised and estimated)
    alerts      rules over metric dicts, channels, de-duplication, events
    monitors    stored definitions run window by window against a reference
    report      self-contained HTML pages (tests/test_import_graph.py checks it)

Importing this package loads NumPy and pandas; ``import steward`` does not
(``steward.monitoring`` is imported on first access). Plotly and SciPy are
imported only by the calls that need them.
"""

from __future__ import annotations

from steward.monitoring.alerts.channels import AlertChannel, channel, register_channel
from steward.monitoring.alerts.events import events
from steward.monitoring.alerts.manager import Alert, AlertManager, ack, list_alerts
from steward.monitoring.alerts.rules import Rule, parse_rule
from steward.monitoring.checks.drift import drift
from steward.monitoring.checks.estimated import EstimatedPerformance, estimate_performance
from steward.monitoring.checks.performance import PerformanceResult, performance
from steward.monitoring.checks.quality import QualityResult, quality
from steward.monitoring.checks.result import DriftResult, FeatureDrift, SchemaChanges
from steward.monitoring.monitors.definition import (
    Monitor,
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
)
from steward.monitoring.monitors.run import MonitorResult, monitor_results, run_monitor
from steward.monitoring.monitors.schedule import parse_cron, parse_window
from steward.monitoring.report.trends import write_monitor_report
from steward.monitoring.report.window import write_report
from steward.monitoring.statistics.profile import summary_from_profile
from steward.monitoring.statistics.summary import DatasetSummary, summarize

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
