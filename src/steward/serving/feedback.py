"""Ground-truth feedback: labels for earlier predictions, by request id, possibly days later.

Labels go to the metadata store next to the prediction log's request index;
ids the log does not know (never served, or shed) are reported back to the
caller rather than silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput

if TYPE_CHECKING:
    from steward.workspace import Workspace

MAX_FEEDBACK_ITEMS = 10_000
_MAX_ID_LENGTH = 64

REQUEST_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "required": ["request_id", "label"],
            "properties": {"request_id": {"type": "string"}, "label": {}},
        },
        {
            "type": "object",
            "required": ["feedback"],
            "properties": {
                "feedback": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["request_id", "label"],
                        "properties": {"request_id": {"type": "string"}, "label": {}},
                    },
                }
            },
        },
    ]
}


@dataclass(frozen=True)
class FeedbackResult:
    """Which labels were stored and which request ids are unknown."""

    accepted: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``/feedback`` reply."""
        return {
            "accepted": len(self.accepted),
            "unknown_request_ids": self.unknown,
        }


def _item(value: Any, index: int) -> tuple[str, str]:
    if not isinstance(value, dict) or "request_id" not in value or "label" not in value:
        raise InvalidInput(
            f"feedback item {index} must be an object with 'request_id' and 'label'."
        )
    request_id, label = value["request_id"], value["label"]
    if not isinstance(request_id, str) or not 0 < len(request_id) <= _MAX_ID_LENGTH:
        raise InvalidInput(f"feedback item {index}: 'request_id' must be a request id string.")
    if label is None or isinstance(label, dict):
        raise InvalidInput(
            f"feedback item {index}: 'label' must be a number, string, boolean or list."
        )
    try:
        text = json.dumps(label, allow_nan=False)
    except ValueError:
        raise InvalidInput(f"feedback item {index}: 'label' must be finite.") from None
    if len(text) > 10_000:
        raise InvalidInput(f"feedback item {index}: 'label' is too large.")
    return request_id, text


def parse_feedback(payload: Any) -> list[tuple[str, str]]:
    """Label pairs from ``{request_id, label}``, a list of them, or ``{"feedback": [...]}``.

    Raises:
        InvalidInput: the payload is not feedback, or holds too many items.
    """
    if isinstance(payload, dict) and "feedback" in payload:
        payload = payload["feedback"]
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise InvalidInput("no feedback sent; send {'request_id': ..., 'label': ...}.")
    if len(items) > MAX_FEEDBACK_ITEMS:
        raise InvalidInput(f"send at most {MAX_FEEDBACK_ITEMS} feedback items per request.")
    return [_item(value, index) for index, value in enumerate(items)]


def record_feedback(
    workspace: Workspace,
    labels: list[tuple[str, str]],
    *,
    actor: str | None = None,
) -> FeedbackResult:
    """Store labels for known request ids; report the unknown ones.

    Args:
        workspace: where the prediction log is indexed.
        labels: ``(request_id, label_json)`` pairs.
        actor: who sent the labels (default: the workspace's user).
    """
    ids = list(dict.fromkeys(request_id for request_id, _ in labels))
    known = workspace.store.serving.known_requests(ids)
    accepted = [(request_id, label) for request_id, label in labels if request_id in known]
    workspace.store.serving.add_feedback(accepted, actor or workspace.actor)
    return FeedbackResult(
        list(dict.fromkeys(request_id for request_id, _ in accepted)),
        [request_id for request_id in ids if request_id not in known],
    )


def log_feedback(labels: Any, *, workspace: Workspace | None = None) -> FeedbackResult:
    """Ground-truth labels from Python, as ``POST /feedback`` takes them from HTTP: for
    served predictions and batch-scored rows (``steward score``) alike.

    Args:
        labels: ``{request_id: label}``, ``[(request_id, label), ...]``, or a DataFrame
            with ``request_id`` and ``label`` columns.
        workspace: where the prediction log is (default: the current workspace).

    Returns:
        Which request ids got their label and which are unknown to the log.

    Raises:
        InvalidInput: a malformed id or label (nothing is stored).
    """
    from steward.workspace import current_workspace

    if hasattr(labels, "to_dict") and hasattr(labels, "columns"):
        labels = list(zip(labels["request_id"], labels["label"], strict=True))
    elif isinstance(labels, dict):
        labels = list(labels.items())
    items = [
        {"request_id": str(request_id), "label": label.item() if hasattr(label, "item") else label}
        for request_id, label in labels
    ]
    if not items:
        raise InvalidInput("no labels given; pass {request_id: label, ...}.")
    parsed = [_item(item, index) for index, item in enumerate(items)]
    target = workspace or current_workspace()
    accepted: list[str] = []
    unknown: list[str] = []
    for start in range(0, len(parsed), MAX_FEEDBACK_ITEMS):
        result = record_feedback(target, parsed[start : start + MAX_FEEDBACK_ITEMS])
        accepted += result.accepted
        unknown += result.unknown
    return FeedbackResult(accepted, unknown)
