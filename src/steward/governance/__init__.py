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
from steward.governance.explain import (
    Explanation,
    FeatureImportance,
    LocalExplanation,
    explain,
    explanations,
    permutation_importance,
    shap_importance,
)
from steward.governance.fairness import (
    FairnessReport,
    GroupMetrics,
    Interval,
    fairness_report,
    save_fairness_report,
)
from steward.governance.lineage import (
    Edge,
    LineageGraph,
    Node,
    PredictionLineage,
    lineage,
    register_lineage_provider,
    trained_on,
)

__all__ = [
    "AuditEvent",
    "AuditProblem",
    "AuditVerification",
    "Edge",
    "Explanation",
    "FairnessReport",
    "FeatureImportance",
    "GroupMetrics",
    "Interval",
    "LineageGraph",
    "LocalExplanation",
    "Node",
    "PredictionLineage",
    "audit_events",
    "explain",
    "explanations",
    "export_audit",
    "fairness_report",
    "lineage",
    "permutation_importance",
    "register_lineage_provider",
    "save_fairness_report",
    "shap_importance",
    "trained_on",
    "verify_audit",
]
