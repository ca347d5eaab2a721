"""Every repository of the metadata store that a server exposes, with its endpoints."""

from __future__ import annotations

from steward.api.agent import AGENT, AGENT_LEASE, BUDGETS
from steward.api.audit import AUDIT
from steward.api.auth import AUTH
from steward.api.datasets import DATASETS
from steward.api.endpoint import Repository
from steward.api.governance import GOVERNANCE
from steward.api.monitoring import MONITORING
from steward.api.pipelines import PIPELINES
from steward.api.promotion import PROMOTION
from steward.api.registry import REGISTRY
from steward.api.serving import SERVING
from steward.api.tracking import TRACKING

REPOSITORIES: tuple[Repository, ...] = (
    TRACKING,
    DATASETS,
    REGISTRY,
    PROMOTION,
    SERVING,
    MONITORING,
    PIPELINES,
    GOVERNANCE,
    AGENT,
    AGENT_LEASE,
    BUDGETS,
    AUDIT,
    AUTH,
)
