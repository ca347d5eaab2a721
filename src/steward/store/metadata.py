"""An open metadata store: engine, schema check, and one repository per lifecycle module."""

from __future__ import annotations

from sqlalchemy import Engine

from steward.store.agent import AgentStore
from steward.store.agent_lease import AgentLeaseStore
from steward.store.audit import AuditStore
from steward.store.auth import AuthStore
from steward.store.budgets import BudgetStore
from steward.store.datasets import DatasetStore
from steward.store.engine import create_store_engine
from steward.store.governance import GovernanceStore
from steward.store.migrate import ensure_schema
from steward.store.monitoring import MonitoringStore
from steward.store.pipelines import PipelineStore
from steward.store.promotion import PromotionStore
from steward.store.references import ReferenceStore
from steward.store.registry import RegistryStore
from steward.store.serving import ServingStore
from steward.store.tracking import TrackingStore


class MetadataStore:
    """An open metadata store; each lifecycle module has its repository on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_store_engine(url)
        ensure_schema(self.engine)
        self.tracking = TrackingStore(self.engine)
        self.datasets = DatasetStore(self.engine)
        self.registry = RegistryStore(self.engine)
        self.monitoring = MonitoringStore(self.engine)
        self.serving = ServingStore(self.engine)
        self.references = ReferenceStore(self.engine)
        self.audit = AuditStore(self.engine)
        self.governance = GovernanceStore(self.engine)
        self.promotion = PromotionStore(self.engine)
        self.pipelines = PipelineStore(self.engine)
        self.auth = AuthStore(self.engine)
        self.agent = AgentStore(self.engine)
        self.agent_lease = AgentLeaseStore(self.engine)
        self.budgets = BudgetStore(self.engine)

    def close(self) -> None:
        """Release the store's connections."""
        self.engine.dispose()
