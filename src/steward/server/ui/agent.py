"""Triggers and retraining budgets: what the agent may start, what it started and why,
and how much of each model's budget that spent."""

from __future__ import annotations

from steward.auth import Role
from steward.server.ui.pages import Context, Page

FIRINGS = 50


def triggers(context: Context) -> Page:
    """Every trigger, the agent's lease, and the latest firings."""
    store = context.workspace.store
    values = {
        "triggers": store.agent.list_triggers(),
        "lease": store.agent_lease.get(),
        "firings": store.agent.firings(limit=FIRINGS),
    }
    return Page("triggers.html", "Triggers", values)


def trigger(context: Context) -> Page:
    """One trigger and its firings, each with its cause and the pipeline run it started."""
    store = context.workspace.store
    found = store.agent.get_trigger(context.path("name"))
    values = {"trigger": found, "firings": store.agent.firings(trigger=found.name, limit=FIRINGS)}
    return Page("trigger.html", f"Trigger {found.name}", values)


def budgets(context: Context) -> Page:
    """Each registered model's retraining budget beside what its firings spent."""
    from steward.agent.budget import show_budget

    reports = [
        show_budget(model.name, context.workspace)
        for model in context.workspace.store.registry.list_models()
    ]
    return Page("budgets.html", "Retraining budgets", {"reports": reports})


PAGES = (
    ("/triggers", triggers, Role.VIEWER),
    ("/triggers/{name}", trigger, Role.VIEWER),
    ("/budgets", budgets, Role.VIEWER),
)
