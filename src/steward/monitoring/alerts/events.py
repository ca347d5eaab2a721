"""The events monitoring publishes, for other parts (retraining pipelines) to consume.

Topics: ``monitor.evaluated`` (every stored window: its status, drift verdict
and the alerts it raised), ``alert.fired``, ``alert.worsened``,
``alert.reminder``, ``alert.resolved`` and ``alert.acknowledged``. An event
is written in the same transaction as the change it announces, so a consumer
never sees one without the other. Each has an increasing ``pk``: a consumer
keeps the last one it handled and asks for the events after it::

    offset = 0
    for event in steward.monitoring.events("alert.*", after=offset):
        handle(event.payload)
        offset = event.pk
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.errors import InvalidInput

if TYPE_CHECKING:
    from steward.store.monitoring import Event
    from steward.workspace import Workspace


def events(
    topic: str | None = None,
    after: int = 0,
    limit: int = 1000,
    workspace: Workspace | None = None,
) -> list[Event]:
    """Published events after offset ``after``, oldest first.

    Args:
        topic: one topic (``alert.fired``), every topic under a prefix (``alert.*``),
            or None for all.
        after: the ``pk`` of the last event already handled (0: from the start).
        limit: the most events returned; ask again after the last one for more.
        workspace: the stores (default: the current workspace).

    Raises:
        InvalidInput: a negative offset or a limit below 1.
    """
    from steward.workspace import current_workspace

    if after < 0:
        raise InvalidInput(f"after is an event's pk (0 or more), not {after}.")
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, not {limit}.")
    ws = workspace or current_workspace()
    return ws.store.monitoring.events(topic=topic, after=after, limit=limit)
