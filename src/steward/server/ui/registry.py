"""Models: registered models, their versions and aliases, one version's card,
checks, fairness and explanations, and the review buttons for approvers.

Approving or rejecting goes through the SDK (``steward.models.approve``), so the
registry's review rules apply, and takes the same role decision as the REST API:
the button is shown only to approvers, and the post is refused for anyone else.
"""

from __future__ import annotations

from steward.auth import Role
from steward.errors import InvalidInput
from steward.server.ui.formatting import ui_url
from steward.server.ui.pages import Context, Page
from steward.store.registry import VersionStatus

REVIEW_ACTIONS = ("approve", "reject")
"""The SDK functions (``steward.models.registry``) a review form may call."""


def models(context: Context) -> Page:
    """Every registered model with its latest version and aliases."""
    found = context.workspace.store.registry.list_models(context.query.get("q") or None)
    return Page("models.html", "Models", {"models": found, "q": context.query.get("q", "")})


def model(context: Context) -> Page:
    """A model's versions, its aliases and their history."""
    registry = context.workspace.store.registry
    found = registry.get_model(context.path("name"))
    values = {
        "model": found,
        "versions": registry.list_versions(found.name),
        "alias_history": registry.alias_history(found.name)[:50],
    }
    return Page("model.html", f"Model {found.name}", values)


def _version_number(context: Context) -> int:
    text = context.path("version")
    if not text.isdigit():
        raise InvalidInput(f"a version is a number, not {text[:20]!r}.")
    return int(text)


def version(context: Context) -> Page:
    """One version: status and review, and its card (metrics, data, checks, fairness,
    explanations, lineage)."""
    from steward.models.card import build_card

    store = context.workspace.store
    name, number = context.path("name"), _version_number(context)
    found = store.registry.get_version(name, number)
    values = {
        "version": found,
        "history": store.registry.status_history(name, number),
        "card": build_card(name, number),
        "can_review": context.can(Role.APPROVER),
        "reviewable": found.status in (VersionStatus.PENDING, VersionStatus.APPROVED),
        "notice": context.query.get("done", ""),
    }
    return Page("version.html", f"{name} v{number}", values)


def review(context: Context) -> Page:
    """Approve or reject a version (approvers only), with the reason the audit log keeps.

    Approving goes through the SDK's ``approve``, which first re-reads the version's
    stored files (a changed or missing blob refuses it), as every other client does.

    Raises:
        InvalidInput: an unknown action or no reason.
        IntegrityError: the version's stored content no longer verifies.
    """
    from steward.models import registry

    name, number = context.path("name"), _version_number(context)
    action = context.field("action")
    if action not in REVIEW_ACTIONS:
        raise InvalidInput("choose approve or reject.")
    decide = getattr(registry, action)
    decide(name, number, context.field("reason"), actor=context.principal.user)
    return Page(redirect=ui_url(f"/models/{name}/{number}", done=f"{action}d"))


PAGES = (
    ("/models", models, Role.VIEWER),
    ("/models/{name}", model, Role.VIEWER),
    ("/models/{name}/{version}", version, Role.VIEWER),
)
POSTS = (("/models/{name}/{version}/review", review, Role.APPROVER),)
