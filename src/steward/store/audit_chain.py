"""The hash of one audit event: the link of the append-only chain.

Each event's hash covers its own fields and the hash of the event before it,
so editing, deleting or reordering any stored event breaks the chain from
that point on. The encoding is frozen (a migration computes it too): every
text field is length-prefixed, ``None`` is ``~``, so no two different events
encode alike whatever characters their fields hold.
"""

from __future__ import annotations

from hashlib import sha256

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event."""


def event_hash(
    seq: int,
    at: int,
    actor: str,
    action: str,
    subject: str,
    from_state: str | None,
    to_state: str | None,
    reason: str | None,
    details: str | None,
    prev_hash: str,
) -> str:
    """The SHA-256 hex digest of one event's fields and the previous event's hash."""
    payload = (
        f"{seq}|{at}|{len(actor)}:{actor}|{len(action)}:{action}|{len(subject)}:{subject}|"
        f"{'~' if from_state is None else f'{len(from_state)}:{from_state}'}|"
        f"{'~' if to_state is None else f'{len(to_state)}:{to_state}'}|"
        f"{'~' if reason is None else f'{len(reason)}:{reason}'}|"
        f"{'~' if details is None else f'{len(details)}:{details}'}|{prev_hash}"
    )
    return sha256(payload.encode()).hexdigest()
