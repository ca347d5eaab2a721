"""The audit log over HTTP: reading it, its head, and verifying the chain.

Nothing here writes: events are appended by the changes they record, in the
same transaction, on the server.
"""

from __future__ import annotations

from functools import partial

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.store.audit import AuditStore

_audit = partial(Endpoint, "audit")

AUDIT = Repository(
    "audit",
    (
        _audit(AuditStore.events, "POST", "/audit/events/search", Role.VIEWER),
        _audit(AuditStore.subject_events, "POST", "/audit/events/by-subject", Role.VIEWER),
        _audit(AuditStore.head, "GET", "/audit/head", Role.VIEWER),
        # Read-only: an auditor with a viewer's token checks the chain themselves.
        _audit(AuditStore.verify, "POST", "/audit/verify", Role.VIEWER),
    ),
)
