"""Governance: fairness across groups, explanations, the lineage graph, the audit log.

``fairness_report`` gives per-group rates and disparities (fairlearn's
definitions, vectorised); ``explain`` computes permutation importance (and
SHAP values where ``mlsteward[explain]`` is installed) and stores them with a
model version; ``lineage`` walks everything recorded from data to alerts;
``audit_events`` and ``verify_audit`` read and check the hash-chained log.
"""

from __future__ import annotations

from steward.governance.audit import (
    AuditEvent,
    AuditProblem,
    AuditVerification,
    audit_events,
    export_audit,
    verify_audit,
)
from steward.governance.fairness import FairnessReport, GroupMetrics, Interval, fairness_report

__all__ = [
    "AuditEvent",
    "AuditProblem",
    "AuditVerification",
    "FairnessReport",
    "GroupMetrics",
    "Interval",
    "audit_events",
    "export_audit",
    "fairness_report",
    "verify_audit",
]
