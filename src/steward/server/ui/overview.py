"""The overview: what is in the workspace and what happened last, linking to each page."""

from __future__ import annotations

from steward.auth import Role
from steward.server.ui.pages import Context, Page

RECENT = 10


def overview(context: Context) -> Page:
    """Counts, recent runs, versions waiting for review, firing alerts, latest changes."""
    store = context.workspace.store
    experiments = store.tracking.list_experiments()
    values = {
        "experiments": experiments,
        "run_count": sum(e.run_count for e in experiments),
        "datasets": store.datasets.list_datasets(),
        "models": store.registry.list_models(),
        "monitors": store.monitoring.list_monitors(),
        "recent_runs": store.tracking.search_runs(max_results=RECENT).runs,
        "pending": store.registry.search_versions(status="pending", max_results=RECENT),
        "firing": store.monitoring.list_alerts("firing", None, RECENT),
        "pipelines": store.pipelines.list_runs(limit=5),
        "events": store.audit.events(limit=RECENT * 2),
    }
    return Page("overview.html", "Overview", values)


PAGES = (("/", overview, Role.VIEWER),)
