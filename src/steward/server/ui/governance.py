"""Lineage and the audit log: the graph around any node (each node a link to its
page), a prediction traced back to its training data, and the hash-chained log."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup

from steward.auth import Role
from steward.errors import InvalidInput
from steward.server.ui.pages import Context, Page

AUDIT_LIMITS = (100, 500, 2000)


def lineage(context: Context) -> Page:
    """The lineage graph around a reference (``run:…``, ``model:name/3``, ``dataset:name:1``…)."""
    from steward.governance.lineage import DIRECTIONS
    from steward.governance.lineage import lineage as walk
    from steward.governance.lineage_render import to_svg

    ref = context.query.get("ref", "").strip()
    direction = context.query.get("direction", "both")
    values: dict[str, object] = {"ref": ref, "direction": direction, "directions": DIRECTIONS}
    if ref:
        graph = walk(ref, direction, workspace=context.workspace)
        # to_svg escapes every label and title itself.
        values.update(graph=graph, drawing=Markup(to_svg(graph)))
    return Page("lineage.html", "Lineage", values)


def prediction(context: Context) -> Page:
    """Which model version answered a request, its training run, and the data it read."""
    from steward.governance.lineage import trained_on

    request_id = context.query.get("request_id", "").strip()
    found = trained_on(request_id, context.workspace) if request_id else []
    values = {"request_id": request_id, "found": found}
    return Page("prediction.html", "Trace a prediction", values)


def _since(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'since' must be a date like 2026-12-01, not {text[:40]!r}.") from None


def audit(context: Context) -> Page:
    """The audit log, newest first, filtered by action, subject, who and since when.

    Raises:
        InvalidInput: a bad date or limit.
    """
    query = context.query
    limit_text = query.get("limit", str(AUDIT_LIMITS[0]))
    if not limit_text.isdigit() or int(limit_text) not in AUDIT_LIMITS:
        raise InvalidInput(f"limit must be one of {AUDIT_LIMITS}.")
    filters = {
        name: query.get(name, "").strip() for name in ("action", "subject", "actor", "since")
    }
    events = context.workspace.store.audit.events(
        action=filters["action"] or None,
        subject=filters["subject"] or None,
        made_by=filters["actor"] or None,
        since=_since(filters["since"]),
        limit=int(limit_text),
    )
    head = context.workspace.store.audit.head()
    values = {
        "events": events,
        "filters": filters,
        "limit": int(limit_text),
        "limits": AUDIT_LIMITS,
        "head": head,
    }
    return Page("audit.html", "Audit log", values)


PAGES = (
    ("/lineage", lineage, Role.VIEWER),
    ("/predictions", prediction, Role.VIEWER),
    ("/audit", audit, Role.VIEWER),
)
