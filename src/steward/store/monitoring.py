"""SQL for monitors, their per-window results, alerts, deliveries, rule states and events.

Every change of an alert's state and the event announcing it are written in
one transaction, so a consumer of ``events`` (a retraining trigger) never sees
an alert without its event or the reverse.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, delete, func, insert, select, update

from steward.errors import Conflict, NotFound
from steward.store import schema as t
from steward.store.audit import append_event
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import datetime_to_ms, ms_to_datetime, now_ms


@dataclass(frozen=True)
class Alert:
    """One alert: a rule's condition that held, from firing until resolution."""

    id: str
    source: str
    rule: str
    expression: str
    severity: str
    status: str
    metric: str
    value: float | None
    threshold: float
    worst_value: float | None
    message: str
    fired_at: datetime
    updated_at: datetime
    notified_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (times as ISO 8601)."""
        data = dict(self.__dict__)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


@dataclass(frozen=True)
class Delivery:
    """One attempt series to tell a channel about an alert event."""

    pk: int
    alert_id: str
    channel: str
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Event:
    """A published event (``alert.fired``, ``alert.resolved``…) for later consumers."""

    pk: int
    id: str
    topic: str
    payload: dict[str, Any]
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (time as ISO 8601)."""
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class MonitorRecord:
    """A stored monitor definition; ``config`` holds everything but its name and model."""

    id: str
    name: str
    model: str
    config: dict[str, Any]
    created_at: datetime
    created_by: str
    updated_at: datetime


@dataclass(frozen=True)
class MonitorResultRecord:
    """One evaluated window of a monitor; the full result is the JSON blob ``blob_digest``."""

    id: str
    monitor: str
    window_start: datetime
    window_end: datetime
    row_count: int
    label_count: int
    drift_share: float | None
    dataset_drift: bool | None
    status: str
    model_version: int | None
    blob_digest: str
    created_at: datetime
    created_by: str


def _float_in(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


class MonitoringStore:
    """Alerts, deliveries, rule states and events in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- rows to records ------------------------------------------------------

    @staticmethod
    def _alert(row: Any) -> Alert:
        return Alert(
            id=row.id,
            source=row.source,
            rule=row.rule,
            expression=row.expression,
            severity=row.severity,
            status=row.status,
            metric=row.metric,
            value=row.value,
            threshold=row.threshold,
            worst_value=row.worst_value,
            message=row.message,
            fired_at=ms_to_datetime(row.fired_at),  # type: ignore[arg-type]
            updated_at=ms_to_datetime(row.updated_at),  # type: ignore[arg-type]
            notified_at=ms_to_datetime(row.notified_at),  # type: ignore[arg-type]
            resolved_at=ms_to_datetime(row.resolved_at),
            acknowledged_at=ms_to_datetime(row.acknowledged_at),
            acknowledged_by=row.acknowledged_by,
            created_by=row.created_by,
        )

    @staticmethod
    def _publish(connection: Connection, topic: str, payload: dict[str, Any], actor: str) -> None:
        connection.execute(
            insert(t.events).values(
                id=uuid.uuid4().hex,
                topic=topic,
                payload=json.dumps(payload, default=str),
                created_at=now_ms(),
                created_by=actor,
            )
        )

    # -- monitors -------------------------------------------------------------

    @staticmethod
    def _monitor(row: Any) -> MonitorRecord:
        return MonitorRecord(
            id=row.id,
            name=row.name,
            model=row.model,
            config=json.loads(row.config),
            created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
            created_by=row.created_by,
            updated_at=ms_to_datetime(row.updated_at),  # type: ignore[arg-type]
        )

    @staticmethod
    def _monitor_result(row: Any) -> MonitorResultRecord:
        return MonitorResultRecord(
            id=row.id,
            monitor=row.monitor,
            window_start=ms_to_datetime(row.window_start),  # type: ignore[arg-type]
            window_end=ms_to_datetime(row.window_end),  # type: ignore[arg-type]
            row_count=row.row_count,
            label_count=row.label_count,
            drift_share=row.drift_share,
            dataset_drift=None if row.dataset_drift is None else bool(row.dataset_drift),
            status=row.status,
            model_version=row.model_version,
            blob_digest=row.blob_digest,
            created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
            created_by=row.created_by,
        )

    def create_monitor(
        self, name: str, model: str, config: dict[str, Any], actor: str, replace: bool = False
    ) -> MonitorRecord:
        """Store a monitor definition (``replace``: overwrite one of the same name).

        Raises:
            Conflict: a monitor of this name exists and ``replace`` is False.
        """

        def write() -> MonitorRecord:
            now = now_ms()
            body = json.dumps(config, sort_keys=True)
            with write_transaction(self.engine) as connection:
                existing = connection.execute(
                    select(t.monitors.c.pk).where(t.monitors.c.name == name)
                ).scalar()
                if existing is not None and not replace:
                    raise Conflict(
                        f"a monitor named {name!r} exists; choose another name or replace it "
                        "(steward monitor create ... --replace)."
                    )
                append_event(
                    connection,
                    actor,
                    "monitor.replace" if existing is not None else "monitor.create",
                    f"monitor:{name}",
                    details={"model": model, "config": config},
                    at_ms=now,
                )
                if existing is not None:
                    connection.execute(
                        update(t.monitors)
                        .where(t.monitors.c.pk == existing)
                        .values(model=model, config=body, updated_at=now)
                    )
                else:
                    connection.execute(
                        insert(t.monitors).values(
                            id=uuid.uuid4().hex,
                            name=name,
                            model=model,
                            config=body,
                            created_at=now,
                            created_by=actor,
                            updated_at=now,
                        )
                    )
                row = connection.execute(select(t.monitors).where(t.monitors.c.name == name)).one()
                return self._monitor(row)

        return run_with_retry(write)

    def get_monitor(self, name: str) -> MonitorRecord:
        """The monitor called ``name``.

        Raises:
            NotFound: no such monitor.
        """
        with read_transaction(self.engine) as connection:
            row = connection.execute(select(t.monitors).where(t.monitors.c.name == name)).first()
        if row is None:
            raise NotFound(
                f"no monitor named {name!r}; list them with 'steward monitor list' or create one "
                "with 'steward monitor create'."
            )
        return self._monitor(row)

    def list_monitors(self) -> list[MonitorRecord]:
        """Every monitor, by name."""
        with read_transaction(self.engine) as connection:
            rows = connection.execute(select(t.monitors).order_by(t.monitors.c.name)).all()
        return [self._monitor(row) for row in rows]

    def delete_monitor(self, name: str, actor: str) -> None:
        """Remove a monitor and its stored results (their blobs stay in the blob store).

        Raises:
            NotFound: no such monitor.
        """
        pk = self._monitor_pk(name)

        def write() -> None:
            with write_transaction(self.engine) as connection:
                append_event(connection, actor, "monitor.delete", f"monitor:{name}")
                connection.execute(
                    delete(t.monitor_results).where(t.monitor_results.c.monitor_pk == pk)
                )
                connection.execute(delete(t.monitors).where(t.monitors.c.pk == pk))

        run_with_retry(write)

    def _monitor_pk(self, name: str) -> int:
        with read_transaction(self.engine) as connection:
            pk = connection.execute(
                select(t.monitors.c.pk).where(t.monitors.c.name == name)
            ).scalar()
        if pk is None:
            raise NotFound(f"no monitor named {name!r}; list them with 'steward monitor list'.")
        return int(pk)

    def add_monitor_result(
        self,
        monitor: str,
        *,
        window_start: datetime,
        window_end: datetime,
        row_count: int,
        label_count: int,
        drift_share: float | None,
        dataset_drift: bool | None,
        status: str,
        model_version: int | None,
        blob_digest: str,
        event: dict[str, Any],
        actor: str,
    ) -> MonitorResultRecord:
        """Record one evaluated window and publish ``monitor.evaluated`` in one transaction."""
        pk = self._monitor_pk(monitor)
        result_id = uuid.uuid4().hex

        def write() -> MonitorResultRecord:
            with write_transaction(self.engine) as connection:
                connection.execute(
                    insert(t.monitor_results).values(
                        id=result_id,
                        monitor_pk=pk,
                        window_start=datetime_to_ms(window_start),
                        window_end=datetime_to_ms(window_end),
                        row_count=row_count,
                        label_count=label_count,
                        drift_share=None if drift_share is None else _float_in(drift_share),
                        dataset_drift=dataset_drift,
                        status=status,
                        model_version=model_version,
                        blob_digest=blob_digest,
                        created_at=now_ms(),
                        created_by=actor,
                    )
                )
                self._publish(
                    connection, "monitor.evaluated", {**event, "result_id": result_id}, actor
                )
                row = connection.execute(
                    self._results_query().where(t.monitor_results.c.id == result_id)
                ).one()
                return self._monitor_result(row)

        return run_with_retry(write)

    @staticmethod
    def _results_query() -> Any:
        return select(t.monitor_results, t.monitors.c.name.label("monitor")).join(
            t.monitors, t.monitors.c.pk == t.monitor_results.c.monitor_pk
        )

    def monitor_results(self, monitor: str, limit: int = 100) -> list[MonitorResultRecord]:
        """The latest ``limit`` results of a monitor, oldest first (by window end).

        Raises:
            NotFound: no such monitor.
        """
        pk = self._monitor_pk(monitor)
        r = t.monitor_results
        query = (
            self._results_query()
            .where(r.c.monitor_pk == pk)
            .order_by(r.c.window_end.desc(), r.c.pk.desc())
            .limit(limit)
        )
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query).all()
        return [self._monitor_result(row) for row in reversed(rows)]

    # -- rule states ----------------------------------------------------------

    def rule_breaches(self, source: str, rule: str) -> int:
        """How many windows in a row the rule's condition has held."""
        with read_transaction(self.engine) as connection:
            value = connection.execute(
                select(t.alert_rule_states.c.breaches).where(
                    t.alert_rule_states.c.source == source, t.alert_rule_states.c.rule == rule
                )
            ).scalar()
        return int(value or 0)

    def set_rule_breaches(self, source: str, rule: str, breaches: int) -> None:
        """Record how many windows in a row the rule's condition has held."""

        def write() -> None:
            with write_transaction(self.engine) as connection:
                state = t.alert_rule_states
                done = connection.execute(
                    update(state)
                    .where(state.c.source == source, state.c.rule == rule)
                    .values(breaches=breaches, updated_at=now_ms())
                ).rowcount
                if not done:
                    connection.execute(
                        insert(state).values(
                            source=source, rule=rule, breaches=breaches, updated_at=now_ms()
                        )
                    )

        run_with_retry(write)

    # -- alerts ---------------------------------------------------------------

    def open_alert(self, source: str, rule: str) -> Alert | None:
        """The firing alert of a rule, if any."""
        with read_transaction(self.engine) as connection:
            row = connection.execute(
                select(t.alerts).where(
                    t.alerts.c.source == source,
                    t.alerts.c.rule == rule,
                    t.alerts.c.status == "firing",
                )
            ).first()
        return None if row is None else self._alert(row)

    def fire(
        self,
        *,
        source: str,
        rule: str,
        expression: str,
        severity: str,
        metric: str,
        value: float,
        threshold: float,
        message: str,
        actor: str,
    ) -> Alert:
        """Open a new alert and publish ``alert.fired``."""
        alert_id = uuid.uuid4().hex

        def write() -> Alert:
            now = now_ms()
            with write_transaction(self.engine) as connection:
                connection.execute(
                    insert(t.alerts).values(
                        id=alert_id,
                        source=source,
                        rule=rule,
                        expression=expression,
                        severity=severity,
                        status="firing",
                        metric=metric,
                        value=_float_in(value),
                        threshold=threshold,
                        worst_value=_float_in(value),
                        message=message,
                        fired_at=now,
                        updated_at=now,
                        notified_at=now,
                        created_by=actor,
                    )
                )
                row = connection.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).one()
                alert = self._alert(row)
                self._publish(connection, "alert.fired", alert.to_dict(), actor)
                append_event(
                    connection,
                    actor,
                    "alert.fire",
                    f"alert:{alert_id}",
                    None,
                    "firing",
                    message,
                    {"source": source, "rule": rule, "value": _float_in(value)},
                    at_ms=now,
                )
                return alert

        return run_with_retry(write)

    @classmethod
    def _stored_alert(cls, connection: Connection, alert_id: str) -> Alert:
        row = connection.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).first()
        if row is None:
            raise NotFound(f"no alert with id {alert_id!r}; list them with 'steward alerts list'.")
        return cls._alert(row)

    def update(
        self,
        alert_id: str,
        *,
        value: float,
        worst_value: float | None,
        notified: bool,
        topic: str | None,
        actor: str,
    ) -> Alert:
        """Record a new value of a firing alert; publish ``topic`` when given."""

        def write() -> Alert:
            now = now_ms()
            values: dict[str, Any] = {
                "value": _float_in(value),
                "worst_value": _float_in(worst_value),
                "updated_at": now,
            }
            if notified:
                values["notified_at"] = now
            with write_transaction(self.engine) as connection:
                connection.execute(update(t.alerts).where(t.alerts.c.id == alert_id).values(values))
                alert = self._stored_alert(connection, alert_id)
                if topic:
                    self._publish(connection, topic, alert.to_dict(), actor)
                return alert

        return run_with_retry(write)

    def resolve(self, alert_id: str, value: float | None, actor: str) -> Alert:
        """Close a firing alert and publish ``alert.resolved``."""

        def write() -> Alert:
            now = now_ms()
            with write_transaction(self.engine) as connection:
                connection.execute(
                    update(t.alerts)
                    .where(t.alerts.c.id == alert_id)
                    .values(
                        status="resolved",
                        value=_float_in(value),
                        resolved_at=now,
                        updated_at=now,
                        notified_at=now,
                    )
                )
                alert = self._stored_alert(connection, alert_id)
                self._publish(connection, "alert.resolved", alert.to_dict(), actor)
                append_event(
                    connection,
                    actor,
                    "alert.resolve",
                    f"alert:{alert_id}",
                    "firing",
                    "resolved",
                    details={"source": alert.source, "rule": alert.rule},
                    at_ms=now,
                )
                return alert

        return run_with_retry(write)

    def acknowledge(self, alert_id: str, actor: str) -> Alert:
        """Mark an alert as seen by ``actor`` (an id or a unique id prefix).

        Raises:
            NotFound: no alert has this id.
        """

        def write() -> Alert:
            with write_transaction(self.engine) as connection:
                rows = connection.execute(
                    select(t.alerts).where(t.alerts.c.id.startswith(alert_id, autoescape=True))
                ).all()
                if len(rows) != 1:
                    found = "no alert" if not rows else f"{len(rows)} alerts"
                    raise NotFound(
                        f"{found} with id {alert_id!r}; list them with 'steward alerts list'."
                    )
                now = now_ms()
                connection.execute(
                    update(t.alerts)
                    .where(t.alerts.c.pk == rows[0].pk)
                    .values(acknowledged_at=now, acknowledged_by=actor, updated_at=now)
                )
                alert = self._alert(
                    connection.execute(select(t.alerts).where(t.alerts.c.pk == rows[0].pk)).one()
                )
                self._publish(connection, "alert.acknowledged", alert.to_dict(), actor)
                append_event(
                    connection,
                    actor,
                    "alert.ack",
                    f"alert:{alert.id}",
                    rows[0].acknowledged_by and "acknowledged",
                    "acknowledged",
                    details={"source": alert.source, "rule": alert.rule},
                    at_ms=now,
                )
                return alert

        return run_with_retry(write)

    def list_alerts(
        self, status: str | None = None, source: str | None = None, limit: int = 100
    ) -> list[Alert]:
        """Alerts, newest first, optionally only one status or source."""
        query = select(t.alerts).order_by(t.alerts.c.fired_at.desc(), t.alerts.c.pk.desc())
        if status:
            query = query.where(t.alerts.c.status == status)
        if source:
            query = query.where(t.alerts.c.source == source)
        with read_transaction(self.engine) as connection:
            return [self._alert(row) for row in connection.execute(query.limit(limit))]

    # -- deliveries -----------------------------------------------------------

    def record_delivery(
        self,
        alert_id: str,
        channel: str,
        event: str,
        payload: dict[str, Any],
        status: str,
        attempts: int,
        error: str | None,
    ) -> int:
        """Record how telling a channel about an alert event went; returns its key."""

        def write() -> int:
            now = now_ms()
            with write_transaction(self.engine) as connection:
                alert_pk = connection.execute(
                    select(t.alerts.c.pk).where(t.alerts.c.id == alert_id)
                ).scalar_one()
                result = connection.execute(
                    insert(t.alert_deliveries).values(
                        alert_pk=alert_pk,
                        channel=channel,
                        event=event,
                        payload=json.dumps(payload, default=str),
                        status=status,
                        attempts=attempts,
                        last_error=error,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return int(result.inserted_primary_key[0])  # type: ignore[index]

        return run_with_retry(write)

    def update_delivery(self, pk: int, status: str, attempts: int, error: str | None) -> None:
        """Record a retried delivery's outcome."""

        def write() -> None:
            with write_transaction(self.engine) as connection:
                connection.execute(
                    update(t.alert_deliveries)
                    .where(t.alert_deliveries.c.pk == pk)
                    .values(status=status, attempts=attempts, last_error=error, updated_at=now_ms())
                )

        run_with_retry(write)

    def deliveries(self, status: str | None = None, alert_id: str | None = None) -> list[Delivery]:
        """Deliveries, oldest first, optionally only one status or alert."""
        d = t.alert_deliveries
        query = (
            select(d, t.alerts.c.id.label("alert_id"))
            .join(t.alerts, t.alerts.c.pk == d.c.alert_pk)
            .order_by(d.c.pk)
        )
        if status:
            query = query.where(d.c.status == status)
        if alert_id:
            query = query.where(t.alerts.c.id == alert_id)
        with read_transaction(self.engine) as connection:
            return [
                Delivery(
                    pk=row.pk,
                    alert_id=row.alert_id,
                    channel=row.channel,
                    event=row.event,
                    payload=json.loads(row.payload),
                    status=row.status,
                    attempts=row.attempts,
                    last_error=row.last_error,
                    updated_at=ms_to_datetime(row.updated_at),  # type: ignore[arg-type]
                )
                for row in connection.execute(query)
            ]

    # -- events ---------------------------------------------------------------

    def events(self, topic: str | None = None, after: int = 0, limit: int = 1000) -> list[Event]:
        """Published events after key ``after`` (a consumer's offset), oldest first.

        ``topic`` is one topic or a prefix followed by ``*`` (``alert.*``).
        """
        query = select(t.events).where(t.events.c.pk > after)
        if topic and topic.endswith("*"):
            query = query.where(t.events.c.topic.startswith(topic[:-1], autoescape=True))
        elif topic:
            query = query.where(t.events.c.topic == topic)
        return self._read_events(query, limit)

    def events_in(self, topics: tuple[str, ...], after: int = 0, limit: int = 1000) -> list[Event]:
        """Published events of any of ``topics`` after key ``after``, oldest first."""
        query = select(t.events).where(t.events.c.pk > after, t.events.c.topic.in_(topics))
        return self._read_events(query, limit)

    def _read_events(self, query: Select[Any], limit: int) -> list[Event]:
        query = query.order_by(t.events.c.pk)
        with read_transaction(self.engine) as connection:
            return [
                Event(
                    pk=row.pk,
                    id=row.id,
                    topic=row.topic,
                    payload=json.loads(row.payload),
                    created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
                    created_by=row.created_by,
                )
                for row in connection.execute(query.limit(limit))
            ]

    def latest_event_pk(self) -> int:
        """The pk of the newest published event (0 if none)."""
        with read_transaction(self.engine) as connection:
            return int(connection.execute(select(func.max(t.events.c.pk))).scalar() or 0)
