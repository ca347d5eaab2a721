"""The audit log: who changed what, when, from what to what, and why.

Every change of state in the store (runs started, ended, deleted and
restored; dataset versions and aliases; model registration, approvals, stage
and alias moves; monitors created and deleted; alerts fired, resolved and
acknowledged; check results and model reports recorded) appends one event, in
the same transaction as the change. Events are hash-chained: ``verify``
recomputes the chain and names any event that was edited, deleted or
reordered. ``head`` gives the last hash, worth writing down somewhere else
(a ticket, an e-mail): a chain rewritten wholesale from some point on still
ends at a different head.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from steward.errors import InvalidInput
from steward.store.audit import AuditEvent, AuditProblem, AuditVerification

if TYPE_CHECKING:
    from steward.workspace import Workspace

EXPORT_FORMATS = ("jsonl", "csv")
_EXPORT_PAGE = 1000
CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "from",
    "to",
    "reason",
    "details",
    "prev_hash",
    "hash",
)

__all__ = [
    "AuditEvent",
    "AuditProblem",
    "AuditVerification",
    "audit_events",
    "export_audit",
    "verify_audit",
]


def _workspace(workspace: Workspace | None) -> Workspace:
    from steward.workspace import current_workspace

    return workspace or current_workspace()


def audit_events(
    *,
    action: str | None = None,
    subject: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
    newest_first: bool = True,
    workspace: Workspace | None = None,
) -> list[AuditEvent]:
    """Audit events matching every filter given, newest first by default.

    Args:
        action: ``run.end``, or a prefix ending in ``*`` (``model.*``).
        subject: ``run:<id>``, ``model:name/3``, ``dataset:name:2``…, or a prefix and ``*``.
        actor: who made the change.
        since: at or after this time.
        until: before this time.
        limit: at most this many (None: all).
        newest_first: newest first (the default) or oldest first.
        workspace: the workspace (the current one by default).
    """
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be at least 1.")
    return _workspace(workspace).store.audit.events(
        action=action,
        subject=subject,
        made_by=actor,
        since=since,
        until=until,
        limit=limit,
        newest_first=newest_first,
    )


def verify_audit(workspace: Workspace | None = None) -> AuditVerification:
    """Recompute the whole chain; ``.ok`` is False and ``.problems`` name the events if any
    was edited, deleted or reordered."""
    return _workspace(workspace).store.audit.verify()


def _csv_row(event: AuditEvent) -> list[str]:
    data = event.to_dict()
    data["details"] = json.dumps(event.details, sort_keys=True) if event.details else ""
    return ["" if data[column] is None else str(data[column]) for column in CSV_COLUMNS]


def iter_export(format: str, workspace: Workspace | None = None) -> Iterator[str]:
    """The whole log, oldest first, as lines of JSON or CSV (header first).

    Raises:
        InvalidInput: an unknown format.
    """
    if format not in EXPORT_FORMATS:
        raise InvalidInput(f"export format must be one of {', '.join(EXPORT_FORMATS)}.")
    events = _all_events(_workspace(workspace))
    if format == "jsonl":
        for event in events:
            yield json.dumps(event.to_dict(), sort_keys=True) + "\n"
        return
    yield _csv_line(CSV_COLUMNS)
    for event in events:
        yield _csv_line(_csv_row(event))


def _all_events(workspace: Workspace) -> Iterator[AuditEvent]:
    """Every event, oldest first: from one snapshot locally, a page at a time remotely."""
    if not workspace.settings.remote:
        yield from workspace.store.audit.iter_events()
        return
    after = 0
    while True:
        page = workspace.store.audit.events(after_seq=after, limit=_EXPORT_PAGE, newest_first=False)
        yield from page
        if len(page) < _EXPORT_PAGE:
            return
        after = page[-1].seq


def _csv_line(values: list[str] | tuple[str, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def export_audit(
    destination: str | os.PathLike[str] | TextIO,
    format: str = "jsonl",
    workspace: Workspace | None = None,
) -> int:
    """Write the whole log, oldest first, as JSON lines or CSV; returns how many events.

    Args:
        destination: a file path (written atomically) or an open text stream.
        format: ``"jsonl"`` or ``"csv"``.
        workspace: the workspace (the current one by default).
    """
    lines = iter_export(format, workspace)
    if not isinstance(destination, str | os.PathLike):
        return _write_lines(lines, destination, format)
    target = Path(destination)
    partial = target.with_name(f".{target.name}.partial")
    with partial.open("w", encoding="utf-8", newline="") as stream:
        count = _write_lines(lines, stream, format)
    partial.replace(target)
    return count


def _write_lines(lines: Iterator[str], stream: TextIO, format: str) -> int:
    count = 0
    for line in lines:
        stream.write(line)
        count += 1
    return count - 1 if format == "csv" else count
