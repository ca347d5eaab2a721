"""SQL for the agent lease: one row saying which agent process runs the workspace's agent.

Taking, renewing and taking over the lease is one write transaction that
reads the row locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already holds the write lock), so two agents never both
believe they hold it. Taking and giving it up are audited; renewals are not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from steward.store import schema as t
from steward.store.agent_records import LeaseRecord
from steward.store.audit import append_event
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import ms_to_datetime, now_ms

_LEASE_ID = 1


def _lease(row: Any) -> LeaseRecord:
    return LeaseRecord(
        holder=row.holder,
        host=row.host,
        pid=row.pid,
        acquired_at=ms_to_datetime(row.acquired_at),  # type: ignore[arg-type]
        renewed_at=ms_to_datetime(row.renewed_at),  # type: ignore[arg-type]
        expires_at=ms_to_datetime(row.expires_at),  # type: ignore[arg-type]
        last_tick_at=ms_to_datetime(row.last_tick_at),
    )


def _lease_of(connection: Connection) -> LeaseRecord:
    row = connection.execute(select(t.agent_lease).where(t.agent_lease.c.id == _LEASE_ID)).one()
    return _lease(row)


class AgentLeaseStore:
    """The agent lease in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self) -> LeaseRecord | None:
        """The agent lease as stored (None: no agent has run yet)."""
        with read_transaction(self.engine) as connection:
            row = connection.execute(
                select(t.agent_lease).where(t.agent_lease.c.id == _LEASE_ID)
            ).first()
        return None if row is None else _lease(row)

    def acquire(
        self,
        holder: str,
        *,
        host: str,
        pid: int,
        ttl_ms: int,
        actor: str,
        take_from: str | None = None,
        last_tick_ms: int | None = None,
    ) -> tuple[LeaseRecord, bool]:
        """Take, renew or take over the lease.

        The lease goes to ``holder`` when nobody holds it, when ``holder`` holds it
        (a renewal), when it expired, or when its holder is ``take_from`` (a holder
        the caller knows is dead). ``last_tick_ms`` records when the agent last looked.

        Returns:
            The lease as it stands, and whether ``holder`` holds it.
        """

        def write() -> tuple[LeaseRecord, bool]:
            now = now_ms()
            with write_transaction(self.engine) as connection:
                query = select(t.agent_lease).where(t.agent_lease.c.id == _LEASE_ID)
                if connection.dialect.name == "postgresql":
                    query = query.with_for_update()
                row = connection.execute(query).first()
                values: dict[str, Any] = {"renewed_at": now, "expires_at": now + ttl_ms}
                if last_tick_ms is not None:
                    values["last_tick_at"] = last_tick_ms
                if row is not None and row.holder == holder:
                    connection.execute(
                        update(t.agent_lease).where(t.agent_lease.c.id == _LEASE_ID).values(values)
                    )
                    return _lease_of(connection), True
                if row is not None and row.expires_at > now and row.holder != take_from:
                    return _lease(row), False
                values.update(holder=holder, host=host, pid=pid, acquired_at=now)
                if row is None:
                    connection.execute(insert(t.agent_lease).values(id=_LEASE_ID, **values))
                else:
                    connection.execute(
                        update(t.agent_lease).where(t.agent_lease.c.id == _LEASE_ID).values(values)
                    )
                reason = None
                if row is not None:
                    why = "expired" if row.expires_at <= now else "its process is gone"
                    reason = f"taken over from {row.host} pid {row.pid}: {why}"
                append_event(
                    connection,
                    actor,
                    "agent.lease.acquire",
                    "agent:lease",
                    None if row is None else row.holder,
                    holder,
                    reason,
                    {"host": host, "pid": pid},
                    at_ms=now,
                )
                return _lease_of(connection), True

        try:
            return run_with_retry(write)
        except IntegrityError:  # two agents wrote the first lease row at once: read it again
            return run_with_retry(write)

    def release(self, holder: str, actor: str, last_tick_ms: int | None = None) -> bool:
        """Give the lease up (a clean stop) if ``holder`` holds it; True when released."""

        def write() -> bool:
            with write_transaction(self.engine) as connection:
                released = connection.execute(
                    update(t.agent_lease)
                    .where(t.agent_lease.c.id == _LEASE_ID, t.agent_lease.c.holder == holder)
                    .values(
                        expires_at=now_ms(),
                        last_tick_at=func.coalesce(last_tick_ms, t.agent_lease.c.last_tick_at),
                    )
                ).rowcount
                if released:
                    append_event(
                        connection, actor, "agent.lease.release", "agent:lease", holder, None
                    )
                return bool(released)

        return run_with_retry(write)
