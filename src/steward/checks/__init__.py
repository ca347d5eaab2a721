"""Checks: automated tests of data and models, with results stored against versions.

Data suites (``Suite`` of ``Column``, ``RowCount``, ``Freshness``,
``UniqueTogether`` and ``Custom`` expectations; or a YAML/JSON file) run on a
DataFrame or a dataset version through pandera; ``suggest_suite`` drafts one
from a version's stored profile. Model checks (``MetricThreshold``,
``MinImprovement``, ``SegmentFloor``, ``Invariance``, ``Directional``,
``Calibration``, ``Latency``, ``ModelSize``) and ``FairnessThreshold`` run on
held-out data. Every check returns a ``CheckResult``; ``run_checks`` gathers
them into a ``CheckReport`` and ``save_report`` stores it with a dataset or
model version (and the audit log).
"""

from __future__ import annotations

from steward.checks.data_suite import Suite, dump_suite, load_suite
from steward.checks.expectations import Column, Custom, Freshness, RowCount, UniqueTogether
from steward.checks.model_checks import (
    Calibration,
    Directional,
    FairnessThreshold,
    Invariance,
    Latency,
    MetricThreshold,
    MinImprovement,
    ModelSize,
    SegmentFloor,
)
from steward.checks.result import (
    Check,
    CheckContext,
    CheckGroup,
    CheckReport,
    CheckResult,
    run_checks,
)
from steward.checks.stored import as_results, check_history, run_suite, save_report
from steward.checks.suggest import suggest_suite

__all__ = [
    "Calibration",
    "Check",
    "CheckContext",
    "CheckGroup",
    "CheckReport",
    "CheckResult",
    "Column",
    "Custom",
    "Directional",
    "FairnessThreshold",
    "Freshness",
    "Invariance",
    "Latency",
    "MetricThreshold",
    "MinImprovement",
    "ModelSize",
    "RowCount",
    "SegmentFloor",
    "Suite",
    "UniqueTogether",
    "as_results",
    "check_history",
    "dump_suite",
    "load_suite",
    "run_checks",
    "run_suite",
    "save_report",
    "suggest_suite",
]
