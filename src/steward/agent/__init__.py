"""The agent: runs monitors on their schedules and fires triggers within retraining budgets.

``steward agent`` runs one per workspace (a lease in the metadata store keeps
it to one); ``steward.triggers`` adds what it fires, ``steward.agent.set_budget``
caps what retraining may spend. See ``docs/agent.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.agent import triggers
from steward.agent.budget import BudgetReport, set_budget, show_budget
from steward.agent.loop import DEFAULT_POLL_S, Agent, TickReport
from steward.store.agent_records import (
    BudgetRecord,
    FiringRecord,
    FiringState,
    LeaseRecord,
    TriggerRecord,
)

if TYPE_CHECKING:
    from steward.workspace import Workspace


def status(workspace: Workspace | None = None) -> tuple[LeaseRecord | None, list[FiringRecord]]:
    """The agent lease (holder, host, pid, last tick; None if no agent ever ran) and the
    ten most recent firings."""
    ws = triggers.agent_workspace(workspace)
    return ws.store.agent_lease.get(), ws.store.agent.firings(limit=10)


__all__ = [
    "DEFAULT_POLL_S",
    "Agent",
    "BudgetRecord",
    "BudgetReport",
    "FiringRecord",
    "FiringState",
    "LeaseRecord",
    "TickReport",
    "TriggerRecord",
    "set_budget",
    "show_budget",
    "status",
    "triggers",
]
