"""The review rules of the registry, the same for the SDK and the team server.

The ``production`` alias needs a reason and goes only to an approved version;
a version holding it cannot be rejected or archived; approving or rejecting
needs a reason. The server applies these to every request itself (and decides
the role: approvers approve and move ``production``), so no client can skip
them by calling the store's methods directly.
"""

from __future__ import annotations

from steward.errors import InvalidInput
from steward.store.registry import VersionStatus

PRODUCTION = "production"
PROTECTED_ALIASES = (PRODUCTION,)
"""Aliases whose version cannot be rejected or archived while they point at it."""


def alias_requirement(alias: str, reason: str | None) -> VersionStatus | None:
    """The status a version needs to take ``alias`` (``production``: approved).

    Raises:
        InvalidInput: ``production`` without a reason.
    """
    if alias != PRODUCTION:
        return None
    if not reason or not reason.strip():
        raise InvalidInput(
            "moving the 'production' alias needs a reason (--message / reason=…): "
            "it is recorded in the audit trail."
        )
    return VersionStatus.APPROVED


def check_alias_removal(alias: str, reason: str | None) -> None:
    """Refuse removing ``production`` without a reason.

    Raises:
        InvalidInput: no reason given for ``production``.
    """
    if alias == PRODUCTION and not (reason and reason.strip()):
        raise InvalidInput("removing the 'production' alias needs a reason.")


def check_status_reason(status: VersionStatus, reason: str | None) -> None:
    """Refuse approving or rejecting without a reason (it goes in the audit trail).

    Raises:
        InvalidInput: approved or rejected with no reason.
    """
    if status in (VersionStatus.APPROVED, VersionStatus.REJECTED) and not (
        reason and reason.strip()
    ):
        verb = "approving" if status is VersionStatus.APPROVED else "rejecting"
        raise InvalidInput(f"{verb} a version needs a reason; it is kept in the audit trail.")
