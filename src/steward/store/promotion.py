"""SQL for promotion: the gate's verdicts on challengers and each model's promotion policy.

A gate run is stored with its check run (one result per check, against the
challenger version and the held-out dataset version) in one transaction, so a
verdict never exists without its evidence. The policy's decision on it
(promoted, pending approval, rejected) is written later, once. Every write
appends its audit event in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from steward.errors import Conflict, NotFound
from steward.store import schema as t
from steward.store.audit import append_event
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.governance import StoredCheckResult, insert_check_run, model_version_pk
from steward.store.records import ms_to_datetime, now_ms

PROMOTE_MODES = ("auto", "approval")
DECISIONS = ("promoted", "pending", "rejected")
DEFAULT_CHANNELS = ("log",)


@dataclass(frozen=True)
class PromotionPolicy:
    """How a model's passing challengers are promoted, and who is told.

    Attributes:
        model: the registered model.
        promote: ``auto`` (a passing challenger becomes champion) or ``approval``.
        production: the same for the ``production`` alias.
        channels: alert channel specs told about approvals and failures.
        updated_at: when it was last set (None: the default policy, never set).
        updated_by: who set it.
    """

    model: str
    promote: str = "approval"
    production: str = "approval"
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    updated_at: datetime | None = None
    updated_by: str | None = None

    def describe(self) -> str:
        """``promote=auto production=approval channels=log``: the audit trail's form."""
        return (
            f"promote={self.promote} production={self.production} "
            f"channels={','.join(self.channels) or '-'}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "model": self.model,
            "promote": self.promote,
            "production": self.production,
            "channels": list(self.channels),
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class GateRecord:
    """One stored gate verdict on a challenger."""

    id: str
    model: str
    version: int
    champion: str | None
    check_run_id: str
    passed: bool
    decision: str | None
    decided_at: datetime | None
    decided_by: str | None
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "champion": self.champion,
            "check_run_id": self.check_run_id,
            "passed": self.passed,
            "decision": self.decision,
            "decided_at": None if self.decided_at is None else self.decided_at.isoformat(),
            "decided_by": self.decided_by,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


def _when(value: int | None) -> datetime | None:
    return ms_to_datetime(value) if value is not None else None


def _model_pk(connection: Connection, name: str) -> int:
    pk = connection.execute(
        select(t.registered_models.c.pk).where(t.registered_models.c.name == name)
    ).scalar()
    if pk is None:
        raise NotFound(f"no registered model named {name!r}; list them with 'steward models list'.")
    return int(pk)


class PromotionStore:
    """Gate runs and promotion policies in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- policies -------------------------------------------------------------------

    def get_policy(self, name: str) -> PromotionPolicy:
        """The model's policy (the default, approval for everything, if never set).

        Raises:
            NotFound: no such model.
        """
        p = t.model_policies
        with read_transaction(self.engine) as connection:
            model_pk = _model_pk(connection, name)
            row = connection.execute(select(p).where(p.c.model_pk == model_pk)).first()
        if row is None:
            return PromotionPolicy(name)
        return PromotionPolicy(
            name,
            row.promote,
            row.production,
            tuple(json.loads(row.channels)),
            _when(row.updated_at),
            row.updated_by,
        )

    def set_policy(
        self, name: str, promote: str, production: str, channels: Sequence[str], actor: str
    ) -> PromotionPolicy:
        """Store the model's policy (replacing the old one) and audit the change.

        Raises:
            NotFound: no such model.
        """
        p = t.model_policies
        old = self.get_policy(name)
        new = PromotionPolicy(name, promote, production, tuple(channels))

        def write() -> None:
            with write_transaction(self.engine) as connection:
                model_pk = _model_pk(connection, name)
                values = {
                    "promote": promote,
                    "production": production,
                    "channels": json.dumps(list(channels)),
                    "updated_at": now_ms(),
                    "updated_by": actor,
                }
                exists = connection.execute(select(p.c.pk).where(p.c.model_pk == model_pk)).first()
                if exists is None:
                    connection.execute(insert(p).values(model_pk=model_pk, **values))
                else:
                    connection.execute(update(p).where(p.c.model_pk == model_pk).values(**values))
                append_event(
                    connection,
                    actor,
                    "model.policy",
                    f"model:{name}",
                    old.describe(),
                    new.describe(),
                    at_ms=values["updated_at"],  # type: ignore[arg-type]
                )

        run_with_retry(write)
        return self.get_policy(name)

    # -- gate runs ------------------------------------------------------------------

    def record_gate(
        self,
        challenger: tuple[str, int],
        champion: tuple[str, int] | None,
        results: Sequence[StoredCheckResult],
        actor: str,
        *,
        dataset: tuple[str, str] | None = None,
    ) -> GateRecord:
        """Store a gate verdict with its check results (against the challenger version and
        the dataset version), audited as ``model.gate``.

        Raises:
            NotFound: a version does not exist.
        """
        gate_id = uuid.uuid4().hex
        passed = all(r.passed for r in results if r.severity == "error")

        def write() -> None:
            with write_transaction(self.engine) as connection:
                check_pk = insert_check_run(
                    connection,
                    uuid.uuid4().hex,
                    "gate",
                    results,
                    actor,
                    dataset=dataset,
                    model=challenger,
                )
                champion_pk = model_version_pk(connection, *champion) if champion else None
                now = now_ms()
                connection.execute(
                    insert(t.gate_runs).values(
                        id=gate_id,
                        model_version_pk=model_version_pk(connection, *challenger),
                        champion_version_pk=champion_pk,
                        check_run_pk=check_pk,
                        passed=passed,
                        created_at=now,
                        created_by=actor,
                    )
                )
                append_event(
                    connection,
                    actor,
                    "model.gate",
                    f"model:{challenger[0]}/{challenger[1]}",
                    None,
                    "passed" if passed else "failed",
                    details={
                        "gate": gate_id,
                        "champion": None if champion is None else f"{champion[0]}/{champion[1]}",
                        "checks": len(results),
                        "failed": sum(1 for r in results if not r.passed),
                    },
                    at_ms=now,
                )

        run_with_retry(write)
        return self.gates(gate_id=gate_id)[0]

    def decide(self, gate_id: str, decision: str, actor: str, reason: str) -> GateRecord:
        """Record what the policy (or a person) did with a gate's challenger.

        A decision is final except ``pending``, which a person later turns into
        ``promoted`` or ``rejected``.

        Raises:
            NotFound: no such gate run.
            Conflict: the gate run was already decided.
        """

        def write() -> None:
            with write_transaction(self.engine) as connection:
                row = connection.execute(
                    select(t.gate_runs).where(t.gate_runs.c.id == gate_id)
                ).first()
                if row is None:
                    raise NotFound(f"no gate run {gate_id!r}.")
                if row.decision not in (None, "pending"):
                    raise Conflict(f"gate run {gate_id} was already decided: {row.decision}.")
                now = now_ms()
                connection.execute(
                    update(t.gate_runs)
                    .where(t.gate_runs.c.pk == row.pk)
                    .values(decision=decision, decided_at=now, decided_by=actor)
                )
                append_event(
                    connection,
                    actor,
                    "model.gate.decide",
                    f"gate:{gate_id}",
                    row.decision,
                    decision,
                    reason,
                    at_ms=now,
                )

        run_with_retry(write)
        return self.gates(gate_id=gate_id)[0]

    def gates(
        self,
        *,
        gate_id: str | None = None,
        model: tuple[str, int | None] | None = None,
        decision: str | None = None,
        limit: int = 20,
    ) -> list[GateRecord]:
        """Stored gate runs, newest first: one, a model's (or one version's), or by decision."""
        g, mv, rm, c = t.gate_runs, t.model_versions, t.registered_models, t.check_runs
        query = (
            select(
                g,
                rm.c.name.label("model_name"),
                mv.c.version.label("model_version"),
                c.c.id.label("check_run_id"),
            )
            .join(mv, mv.c.pk == g.c.model_version_pk)
            .join(rm, rm.c.pk == mv.c.model_pk)
            .join(c, c.c.pk == g.c.check_run_pk)
            .order_by(g.c.created_at.desc(), g.c.pk.desc())
            .limit(limit)
        )
        if gate_id is not None:
            query = query.where(g.c.id == gate_id)
        if decision is not None:
            query = query.where(g.c.decision == decision)
        with read_transaction(self.engine) as connection:
            if model is not None:
                name, version = model
                if version is None:
                    query = query.where(mv.c.model_pk == _model_pk(connection, name))
                else:
                    query = query.where(mv.c.pk == model_version_pk(connection, name, version))
            rows = connection.execute(query).all()
            champion_names = self._champion_names(connection, rows)
        return [
            GateRecord(
                id=row.id,
                model=row.model_name,
                version=row.model_version,
                champion=champion_names.get(row.pk),
                check_run_id=row.check_run_id,
                passed=bool(row.passed),
                decision=row.decision,
                decided_at=_when(row.decided_at),
                decided_by=row.decided_by,
                created_at=_when(row.created_at),  # type: ignore[arg-type]
                created_by=row.created_by,
            )
            for row in rows
        ]

    @staticmethod
    def _champion_names(connection: Connection, rows: Sequence[Any]) -> dict[int, str]:
        """``name/version`` of each row's champion (it may be another model's version)."""
        pks = {row.champion_version_pk for row in rows if row.champion_version_pk is not None}
        if not pks:
            return {}
        found = {
            pk: f"{name}/{version}"
            for pk, name, version in connection.execute(
                select(
                    t.model_versions.c.pk, t.registered_models.c.name, t.model_versions.c.version
                )
                .join(t.registered_models, t.registered_models.c.pk == t.model_versions.c.model_pk)
                .where(t.model_versions.c.pk.in_(pks))
            )
        }
        return {
            row.pk: found[row.champion_version_pk]
            for row in rows
            if row.champion_version_pk is not None
        }
