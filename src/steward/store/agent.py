"""SQL for the agent's triggers and their firings (the lease and budgets: ``agent_lease``,
``budgets``).

A firing is written (``planned``, with its idempotency key, unique per
trigger) in the same transaction that moves its trigger's cursor past the
cause, before its pipeline starts; so an agent killed at any point either
never saw the cause (and sees it again) or finds the firing and finishes it.
Every change of state is appended to the audit log in its transaction.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from steward.errors import Conflict, NotFound
from steward.store import schema as t
from steward.store.agent_records import UNFINISHED, FiringRecord, FiringState, TriggerRecord
from steward.store.audit import append_event
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import ms_to_datetime, now_ms


def _trigger(row: Any) -> TriggerRecord:
    return TriggerRecord(
        id=row.id,
        name=row.name,
        pipeline=row.pipeline,
        params=json.loads(row.params),
        kind=row.kind,
        spec=json.loads(row.spec),
        model=row.model,
        paused=bool(row.paused),
        cursor=int(row.cursor),
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
        created_by=row.created_by,
        updated_at=ms_to_datetime(row.updated_at),  # type: ignore[arg-type]
    )


def _firing(row: Any) -> FiringRecord:
    return FiringRecord(
        id=row.id,
        trigger=row.trigger_name,
        model=row.model,
        key=row.key,
        cause=json.loads(row.cause),
        state=FiringState(row.state),
        reason=row.reason,
        pipeline_run_id=row.pipeline_run_id,
        planned_at=ms_to_datetime(row.planned_at),  # type: ignore[arg-type]
        started_at=ms_to_datetime(row.started_at),
        ended_at=ms_to_datetime(row.ended_at),
        cpu_seconds=row.cpu_seconds,
        agent=row.agent,
    )


class AgentStore:
    """Triggers and their firings in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- triggers ---------------------------------------------------------------

    def create_trigger(
        self,
        name: str,
        *,
        pipeline: str,
        params: dict[str, Any],
        kind: str,
        spec: dict[str, Any],
        model: str | None,
        cursor: int,
        actor: str,
    ) -> TriggerRecord:
        """Store a new trigger.

        Raises:
            Conflict: a trigger of this name exists.
        """

        def write() -> TriggerRecord:
            now = now_ms()
            with write_transaction(self.engine) as connection:
                exists = connection.execute(
                    select(t.triggers.c.pk).where(t.triggers.c.name == name)
                ).scalar()
                if exists is not None:
                    raise Conflict(
                        f"a trigger named {name!r} exists; choose another name or delete it "
                        f"first (steward trigger delete {name})."
                    )
                connection.execute(
                    insert(t.triggers).values(
                        id=uuid.uuid4().hex,
                        name=name,
                        pipeline=pipeline,
                        params=json.dumps(params, sort_keys=True),
                        kind=kind,
                        spec=json.dumps(spec, sort_keys=True),
                        model=model,
                        paused=False,
                        cursor=cursor,
                        created_at=now,
                        created_by=actor,
                        updated_at=now,
                    )
                )
                append_event(
                    connection,
                    actor,
                    "trigger.create",
                    f"trigger:{name}",
                    to_state="active",
                    details={"pipeline": pipeline, "kind": kind, "spec": spec, "model": model},
                    at_ms=now,
                )
                return self._get_trigger(connection, name)

        return run_with_retry(write)

    @staticmethod
    def _get_trigger(connection: Connection, name: str) -> TriggerRecord:
        row = connection.execute(select(t.triggers).where(t.triggers.c.name == name)).first()
        if row is None:
            raise NotFound(
                f"no trigger named {name!r}; list them with 'steward trigger list' or add one "
                "with 'steward trigger add'."
            )
        return _trigger(row)

    def get_trigger(self, name: str) -> TriggerRecord:
        """The trigger called ``name``.

        Raises:
            NotFound: no such trigger.
        """
        with read_transaction(self.engine) as connection:
            return self._get_trigger(connection, name)

    def list_triggers(self) -> list[TriggerRecord]:
        """Every trigger, by name."""
        with read_transaction(self.engine) as connection:
            rows = connection.execute(select(t.triggers).order_by(t.triggers.c.name)).all()
        return [_trigger(row) for row in rows]

    def set_paused(self, name: str, paused: bool, actor: str) -> TriggerRecord:
        """Pause or resume a trigger (a paused trigger keeps its place and fires nothing).

        Raises:
            NotFound: no such trigger.
        """

        def write() -> TriggerRecord:
            with write_transaction(self.engine) as connection:
                before = self._get_trigger(connection, name)
                if before.paused != paused:
                    connection.execute(
                        update(t.triggers)
                        .where(t.triggers.c.name == name)
                        .values(paused=paused, updated_at=now_ms())
                    )
                    append_event(
                        connection,
                        actor,
                        "trigger.pause" if paused else "trigger.resume",
                        f"trigger:{name}",
                        "paused" if before.paused else "active",
                        "paused" if paused else "active",
                    )
                return self._get_trigger(connection, name)

        return run_with_retry(write)

    def delete_trigger(self, name: str, actor: str) -> None:
        """Delete a trigger; its firings stay (by name) for history and budgets.

        Raises:
            NotFound: no such trigger.
            Conflict: one of its firings is still planned or running.
        """

        def write() -> None:
            with write_transaction(self.engine) as connection:
                trigger_pk = connection.execute(
                    select(t.triggers.c.pk).where(t.triggers.c.name == name)
                ).scalar()
                if trigger_pk is None:
                    self._get_trigger(connection, name)  # raises NotFound
                busy = connection.execute(
                    select(t.firings.c.id).where(
                        t.firings.c.trigger_pk == trigger_pk,
                        t.firings.c.state.in_([state.value for state in UNFINISHED]),
                    )
                ).scalar()
                if busy is not None:
                    raise Conflict(
                        f"trigger {name!r} has firing {busy} in progress; wait for the agent to "
                        "finish it (steward trigger history), or pause the trigger instead."
                    )
                connection.execute(
                    update(t.firings)
                    .where(t.firings.c.trigger_pk == trigger_pk)
                    .values(trigger_pk=None)
                )
                connection.execute(delete(t.triggers).where(t.triggers.c.pk == trigger_pk))
                append_event(connection, actor, "trigger.delete", f"trigger:{name}", "active")

        run_with_retry(write)

    def move_cursor(self, name: str, cursor: int) -> None:
        """Move a trigger's cursor (where it has looked up to) forward to ``cursor``.

        Raises:
            NotFound: no such trigger.
        """

        def write() -> None:
            with write_transaction(self.engine) as connection:
                found = self._get_trigger(connection, name)
                connection.execute(
                    update(t.triggers)
                    .where(t.triggers.c.name == name)
                    .values(cursor=max(cursor, found.cursor))
                )

        run_with_retry(write)

    # -- firings ----------------------------------------------------------------

    def plan_firing(
        self,
        trigger: str,
        *,
        key: str,
        cause: dict[str, Any],
        cursor: int,
        agent: str,
        actor: str,
        skip_reason: str | None = None,
    ) -> FiringRecord | None:
        """Record a firing (``planned``, or ``skipped`` with ``skip_reason``) and move the
        trigger's cursor to ``cursor``, in one transaction.

        Returns:
            The firing, or None when the trigger already has a firing with this key (the
            cursor still moves on).

        Raises:
            NotFound: no such trigger.
        """

        def write() -> FiringRecord | None:
            now = now_ms()
            with write_transaction(self.engine) as connection:
                found = self._get_trigger(connection, trigger)
                trigger_pk = connection.execute(
                    select(t.triggers.c.pk).where(t.triggers.c.name == trigger)
                ).scalar_one()
                connection.execute(
                    update(t.triggers)
                    .where(t.triggers.c.pk == trigger_pk)
                    .values(cursor=max(cursor, found.cursor))
                )
                duplicate = connection.execute(
                    select(t.firings.c.pk).where(
                        t.firings.c.trigger_pk == trigger_pk, t.firings.c.key == key
                    )
                ).scalar()
                if duplicate is not None:
                    return None
                firing_id = uuid.uuid4().hex
                state = FiringState.PLANNED if skip_reason is None else FiringState.SKIPPED
                connection.execute(
                    insert(t.firings).values(
                        id=firing_id,
                        trigger_pk=trigger_pk,
                        trigger_name=trigger,
                        model=found.model,
                        key=key,
                        cause=json.dumps(cause, sort_keys=True, default=str),
                        state=state.value,
                        reason=skip_reason,
                        planned_at=now,
                        ended_at=now if skip_reason is not None else None,
                        agent=agent,
                    )
                )
                append_event(
                    connection,
                    actor,
                    "firing.plan" if skip_reason is None else "firing.skip",
                    f"firing:{firing_id}",
                    None,
                    state.value,
                    skip_reason,
                    {"trigger": trigger, "key": key, "model": found.model},
                    at_ms=now,
                )
                return self._get_firing(connection, firing_id)

        return run_with_retry(write)

    def update_firing(
        self,
        firing_id: str,
        state: FiringState,
        *,
        actor: str,
        reason: str | None = None,
        pipeline_run_id: str | None = None,
        cpu_seconds: float | None = None,
    ) -> FiringRecord:
        """Move a firing to ``state`` (started, succeeded, failed), recording its run and spend.

        Raises:
            NotFound: no such firing.
        """

        def write() -> FiringRecord:
            now = now_ms()
            with write_transaction(self.engine) as connection:
                before = self._get_firing(connection, firing_id)
                values: dict[str, Any] = {"state": state.value}
                if state == FiringState.STARTED and before.started_at is None:
                    values["started_at"] = now
                if state in (FiringState.SUCCEEDED, FiringState.FAILED, FiringState.SKIPPED):
                    values["ended_at"] = now
                if reason is not None:
                    values["reason"] = reason
                if pipeline_run_id is not None:
                    values["pipeline_run_id"] = pipeline_run_id
                if cpu_seconds is not None:
                    values["cpu_seconds"] = cpu_seconds
                connection.execute(
                    update(t.firings).where(t.firings.c.id == firing_id).values(**values)
                )
                action = "firing.run" if state == before.state else f"firing.{state.value}"
                append_event(
                    connection,
                    actor,
                    action,
                    f"firing:{firing_id}",
                    before.state.value,
                    state.value,
                    reason,
                    {"trigger": before.trigger, "pipeline_run": pipeline_run_id},
                    at_ms=now,
                )
                return self._get_firing(connection, firing_id)

        return run_with_retry(write)

    @staticmethod
    def _get_firing(connection: Connection, firing_id: str) -> FiringRecord:
        row = connection.execute(select(t.firings).where(t.firings.c.id == firing_id)).first()
        if row is None:
            raise NotFound(f"no firing {firing_id!r}; see 'steward trigger history'.")
        return _firing(row)

    def firings(
        self,
        *,
        trigger: str | None = None,
        model: str | None = None,
        states: tuple[FiringState, ...] | None = None,
        since_ms: int | None = None,
        limit: int | None = 50,
        newest_first: bool = True,
    ) -> list[FiringRecord]:
        """Firings matching every filter given."""
        f = t.firings
        query = select(f)
        if trigger is not None:
            query = query.where(f.c.trigger_name == trigger)
        if model is not None:
            query = query.where(f.c.model == model)
        if states is not None:
            query = query.where(f.c.state.in_([state.value for state in states]))
        if since_ms is not None:
            query = query.where(f.c.planned_at >= since_ms)
        query = query.order_by(f.c.pk.desc() if newest_first else f.c.pk)
        if limit is not None:
            query = query.limit(limit)
        with read_transaction(self.engine) as connection:
            return [_firing(row) for row in connection.execute(query)]
