"""SQL for the audit log: an append-only, hash-chained record of every change of state.

``append_event`` is called by each repository inside the write transaction of
the change it records, so a change and its event commit together or not at
all. The chain's head (last sequence number and hash) is one row of
``audit_head``, updated in that same transaction: on PostgreSQL the row is
locked (``SELECT … FOR UPDATE``) and on SQLite the write lock is already held
(``BEGIN IMMEDIATE``), so concurrent writers queue and the chain stays one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, Engine, select

from steward.store import schema as t
from steward.store.audit_chain import GENESIS_HASH, event_hash
from steward.store.engine import read_transaction
from steward.store.records import datetime_to_ms, ms_to_datetime, now_ms
from steward.store.tracking_sql import Statement

_PROBLEMS_KEPT = 50
_BATCH = 20_000


@dataclass(frozen=True)
class AuditEvent:
    """One recorded change: who, when, what (action on subject), from, to and why."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (time as ISO 8601)."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "from": self.from_state,
            "to": self.to_state,
            "reason": self.reason,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class AuditProblem:
    """Where the chain does not hold, and how."""

    seq: int
    kind: str  # "edited", "missing", "broken-link", "head"
    message: str


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of checking the whole chain."""

    events: int
    head_seq: int
    head_hash: str
    problems: tuple[AuditProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Whether every event and link checked out."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": [problem.__dict__ for problem in self.problems],
        }


_COLUMNS = "seq, at, actor, action, subject, from_state, to_state, reason, details, prev_hash, hash"
# Plain SQL at the driver level: every run start and end appends an event, and
# building SQLAlchemy statements would cost more than running these.
_SELECT_HEAD = Statement("SELECT seq, hash FROM audit_head WHERE id = 1")
_SELECT_HEAD_LOCKED = Statement("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
_INSERT_EVENT = Statement(
    f"INSERT INTO audit_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _field_sql(column: str, nullable: bool) -> str:
    """SQL giving ``event_hash``'s encoding of one text field (length-prefixed, ``~`` if null)."""
    encoded = f"CAST(length({column}) AS TEXT) || ':' || {column}"
    return f"CASE WHEN {column} IS NULL THEN '~' ELSE {encoded} END" if nullable else encoded


# ``verify`` has the database build each event's hashed text (``event_hash``'s exact
# encoding, characters counted as Python counts them) so Python only hashes it.
_VERIFY_COLUMNS = (
    "seq, "
    + " || '|' || ".join(
        [
            "CAST(seq AS TEXT)",
            "CAST(at AS TEXT)",
            _field_sql("actor", False),
            _field_sql("action", False),
            _field_sql("subject", False),
            _field_sql("from_state", True),
            _field_sql("to_state", True),
            _field_sql("reason", True),
            _field_sql("details", True),
            "prev_hash",
        ]
    )
    + ", prev_hash, hash"
)
_INSERT_HEAD = Statement("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)")
_UPDATE_HEAD = Statement("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


SYSTEM_ACTOR = "steward"
"""The actor of changes Steward makes on its own (a run found dead, for instance)."""


@dataclass(frozen=True)
class PendingEvent:
    """An event to append later in the same write transaction (``append_events``)."""

    actor: str
    action: str
    subject: str
    from_state: Any = None
    to_state: Any = None
    reason: str | None = None
    details: dict[str, Any] | None = None
    at_ms: int | None = None


def append_event(
    connection: Connection,
    actor: str,
    action: str,
    subject: str,
    from_state: Any = None,
    to_state: Any = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    at_ms: int | None = None,
) -> int:
    """Append one event to the chain inside the caller's write transaction.

    Returns:
        The event's sequence number.
    """
    event = PendingEvent(actor, action, subject, from_state, to_state, reason, details, at_ms)
    return append_events(connection, [event])


def append_events(connection: Connection, events: Sequence[PendingEvent]) -> int:
    """Append events to the chain, in order, inside the caller's write transaction: the
    head is read and moved once, however many there are (a pipeline's finished steps
    start and end dozens of runs in one write).

    Returns:
        The last event's sequence number.

    Raises:
        ValueError: ``events`` is empty.
    """
    if not events:
        raise ValueError("append_events needs at least one event")
    locking = _SELECT_HEAD_LOCKED if connection.dialect.name == "postgresql" else _SELECT_HEAD
    row = locking.run(connection, ()).first()
    seq, previous_hash = (0, GENESIS_HASH) if row is None else (row[0], row[1])
    rows = []
    for event in events:
        seq += 1
        at = now_ms() if event.at_ms is None else event.at_ms
        details = json.dumps(event.details, sort_keys=True, default=str) if event.details else None
        old, new = _text(event.from_state), _text(event.to_state)
        fields = (
            seq,
            at,
            event.actor,
            event.action,
            event.subject,
            old,
            new,
            event.reason,
            details,
        )
        digest = event_hash(*fields, previous_hash)
        rows.append((*fields, previous_hash, digest))
        previous_hash = digest
    _INSERT_EVENT.run_many(connection, rows)
    (_INSERT_HEAD if row is None else _UPDATE_HEAD).run(connection, (seq, previous_hash))
    return int(seq)


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        at=ms_to_datetime(row.at),  # type: ignore[arg-type]
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        from_state=row.from_state,
        to_state=row.to_state,
        reason=row.reason,
        details=json.loads(row.details) if row.details else {},
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class AuditStore:
    """Reading and verifying the audit log (writes go through ``append_event``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def events(
        self,
        *,
        action: str | None = None,
        subject: str | None = None,
        made_by: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int | None = 100,
        newest_first: bool = True,
    ) -> list[AuditEvent]:
        """Events matching every filter given.

        Args:
            action: one action (``run.end``) or a prefix ending in ``*`` (``model.*``).
            subject: one subject (``run:ab12…``) or a prefix ending in ``*``.
            made_by: who made the change.
            since: at or after this time.
            until: before this time.
            after_seq: only events after this sequence number (a reader's offset).
            limit: at most this many (None: all).
            newest_first: order by sequence number descending (else ascending).
        """
        e = t.audit_events
        query = select(e).where(e.c.seq > after_seq)
        for column, value in ((e.c.action, action), (e.c.subject, subject)):
            if value and value.endswith("*"):
                query = query.where(column.startswith(value[:-1], autoescape=True))
            elif value:
                query = query.where(column == value)
        if made_by:
            query = query.where(e.c.actor == made_by)
        if since is not None:
            query = query.where(e.c.at >= datetime_to_ms(since))
        if until is not None:
            query = query.where(e.c.at < datetime_to_ms(until))
        query = query.order_by(e.c.seq.desc() if newest_first else e.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with read_transaction(self.engine) as connection:
            return [_event(row) for row in connection.execute(query)]

    def subject_events(self, subjects: list[str], actions: tuple[str, ...]) -> list[AuditEvent]:
        """Events of any of ``actions`` on any of ``subjects``, oldest first."""
        e = t.audit_events
        query = (
            select(e).where(e.c.subject.in_(subjects), e.c.action.in_(actions)).order_by(e.c.seq)
        )
        with read_transaction(self.engine) as connection:
            return [_event(row) for row in connection.execute(query)]

    def head(self) -> tuple[int, str]:
        """The chain's head: the last sequence number and its hash (0 and genesis if empty)."""
        with read_transaction(self.engine) as connection:
            row = connection.execute(select(t.audit_head.c.seq, t.audit_head.c.hash)).first()
        return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))

    def iter_rows(
        self, batch: int = _BATCH, columns: str = _COLUMNS
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every event as a raw tuple of ``columns`` (SQL expressions), oldest first, a
        batch at a time, from one consistent snapshot."""
        with read_transaction(self.engine) as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            if connection.dialect.name == "postgresql":
                cursor = raw.cursor(name="steward_audit_scan")  # a server-side cursor
            else:
                cursor = raw.cursor()
            try:
                cursor.execute(f"SELECT {columns} FROM audit_events ORDER BY seq")
                while rows := cursor.fetchmany(batch):
                    yield rows
            finally:
                cursor.close()

    def iter_events(self, batch: int = _BATCH) -> Iterator[AuditEvent]:
        """Every event, oldest first (for export), in bounded memory."""
        names = _COLUMNS.split(", ")
        for rows in self.iter_rows(batch):
            for row in rows:
                yield _event(_Row(zip(names, row, strict=True)))

    def verify(self) -> AuditVerification:
        """Recompute every event's hash and check every link and the head.

        Detects an edited event (its hash no longer matches its fields), a
        deleted one (a gap in the sequence, a broken link, or a head past the
        last event) and reordered ones (broken links).
        """
        problems: list[AuditProblem] = []
        expected_seq = 1
        expected_prev = GENESIS_HASH
        count = 0
        last_hash = GENESIS_HASH
        last_seq = 0

        def problem(seq: int, kind: str, message: str) -> None:
            if len(problems) < _PROBLEMS_KEPT:
                problems.append(AuditProblem(seq, kind, message))

        head_seq, head_hash = self.head()
        for rows in self.iter_rows(columns=_VERIFY_COLUMNS):
            for seq, payload, prev, stored in rows:
                count += 1
                if seq != expected_seq:
                    problem(
                        seq,
                        "missing",
                        f"expected event {expected_seq} next, found {seq}: "
                        "events were deleted or renumbered",
                    )
                if prev != expected_prev:
                    problem(
                        seq,
                        "broken-link",
                        f"event {seq} does not follow the event stored before it: "
                        "an event before it was deleted, reordered or rewritten",
                    )
                if sha256(payload.encode()).hexdigest() != stored:
                    problem(seq, "edited", f"event {seq} was changed after it was written")
                expected_seq = seq + 1
                expected_prev = last_hash = stored
                last_seq = seq
        if (last_seq, last_hash) != (head_seq, head_hash):
            problem(
                last_seq,
                "head",
                f"the chain ends at event {last_seq} but its recorded head is event {head_seq}: "
                "events at the end were deleted or the head was changed",
            )
        return AuditVerification(count, head_seq, head_hash, tuple(problems))


class _Row(dict[str, Any]):
    """A dict readable by attribute, so raw tuples and SQL rows share ``_event``."""

    def __getattr__(self, name: str) -> Any:
        return self[name]
