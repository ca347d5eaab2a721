"""SQL for what governance records: check runs and their results, and model reports.

A check run is stored against a dataset version, a model version, or both
(a model checked on a version of held-out data), with one row per check.
Model reports (explanations, fairness reports) are JSON bodies attached to a
model version. Each write appends its audit event in the same transaction.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from steward.errors import InvalidInput, NotFound
from steward.store import schema as t
from steward.store.audit import append_event
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import ms_to_datetime, now_ms


@dataclass(frozen=True)
class StoredCheckResult:
    """One check's stored outcome."""

    name: str
    kind: str
    severity: str
    passed: bool
    value: float | None
    threshold: float | None
    details: dict[str, Any]


@dataclass(frozen=True)
class StoredCheckRun:
    """One run of a suite of checks, with what it was run on."""

    id: str
    suite: str
    dataset: str | None
    model: str | None
    passed: bool
    check_count: int
    failed_count: int
    created_at: datetime
    created_by: str
    results: tuple[StoredCheckResult, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "id": self.id,
            "suite": self.suite,
            "dataset": self.dataset,
            "model": self.model,
            "passed": self.passed,
            "check_count": self.check_count,
            "failed_count": self.failed_count,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "results": [result.__dict__ for result in self.results],
        }


@dataclass(frozen=True)
class ModelReport:
    """An explanation or fairness report stored with a model version."""

    id: str
    model: str
    version: int
    kind: str
    method: str
    body: dict[str, Any]
    created_at: datetime
    created_by: str


def _float(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _when(value: int) -> datetime:
    result = ms_to_datetime(value)
    assert result is not None
    return result


def model_version_pk(connection: Connection, name: str, version: int) -> int:
    """The primary key of a model version.

    Raises:
        NotFound: no such version.
    """
    pk = connection.execute(
        select(t.model_versions.c.pk)
        .join(t.registered_models, t.registered_models.c.pk == t.model_versions.c.model_pk)
        .where(t.registered_models.c.name == name, t.model_versions.c.version == version)
    ).scalar()
    if pk is None:
        raise NotFound(f"model {name!r} has no version {version}.")
    return int(pk)


def _dataset_version_pk(connection: Connection, version_id: str) -> int:
    pk = connection.execute(
        select(t.dataset_versions.c.pk).where(t.dataset_versions.c.id == version_id)
    ).scalar()
    if pk is None:
        raise NotFound(f"no dataset version with id {version_id!r}.")
    return int(pk)


def insert_check_run(
    connection: Connection,
    run_id: str,
    suite: str,
    results: Sequence[StoredCheckResult],
    actor: str,
    *,
    dataset: tuple[str, str] | None = None,
    model: tuple[str, int] | None = None,
) -> int:
    """Store a run of checks, its results and audit events inside the caller's write
    transaction; returns the run's primary key (see ``GovernanceStore.record_checks``)."""
    failed = sum(1 for r in results if not r.passed)
    passed = all(r.passed for r in results if r.severity == "error")
    subjects = [f"dataset:{dataset[1]}"] if dataset else []
    subjects += [f"model:{model[0]}/{model[1]}"] if model else []
    dataset_pk = _dataset_version_pk(connection, dataset[0]) if dataset else None
    model_pk = model_version_pk(connection, *model) if model else None
    now = now_ms()
    pk = connection.execute(
        insert(t.check_runs)
        .values(
            id=run_id,
            suite=suite,
            dataset_version_pk=dataset_pk,
            model_version_pk=model_pk,
            passed=passed,
            check_count=len(results),
            failed_count=failed,
            created_at=now,
            created_by=actor,
        )
        .returning(t.check_runs.c.pk)
    ).scalar_one()
    if results:
        connection.execute(
            insert(t.check_results),
            [
                {
                    "run_pk": pk,
                    "name": r.name,
                    "kind": r.kind,
                    "severity": r.severity,
                    "passed": r.passed,
                    "value": _float(r.value),
                    "threshold": _float(r.threshold),
                    "details": json.dumps(r.details, default=str) if r.details else None,
                }
                for r in results
            ],
        )
    for subject in subjects:
        append_event(
            connection,
            actor,
            "checks.record",
            subject,
            to_state="passed" if passed else "failed",
            details={"suite": suite, "run": run_id, "checks": len(results), "failed": failed},
            at_ms=now,
        )
    return int(pk)


class GovernanceStore:
    """Check runs, check results and model reports in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_checks(
        self,
        suite: str,
        results: Sequence[StoredCheckResult],
        actor: str,
        *,
        dataset: tuple[str, str] | None = None,
        model: tuple[str, int] | None = None,
    ) -> StoredCheckRun:
        """Store a run of checks against a dataset version (id, ``name:N``) and/or a
        model version (name, number).

        Raises:
            InvalidInput: neither a dataset version nor a model version given.
            NotFound: the version does not exist.
        """
        if dataset is None and model is None:
            raise InvalidInput("check results are stored against a dataset or model version.")
        run_id = uuid.uuid4().hex

        def write() -> None:
            with write_transaction(self.engine) as connection:
                insert_check_run(
                    connection, run_id, suite, results, actor, dataset=dataset, model=model
                )

        run_with_retry(write)
        return self.check_runs(run_id=run_id)[0]

    def check_runs(
        self,
        *,
        run_id: str | None = None,
        dataset_version_id: str | None = None,
        model: tuple[str, int] | None = None,
        suite: str | None = None,
        limit: int = 20,
    ) -> list[StoredCheckRun]:
        """Stored check runs with their results, newest first."""
        c = t.check_runs
        dv, mv, rm, ds = t.dataset_versions, t.model_versions, t.registered_models, t.datasets
        query = (
            select(
                c,
                ds.c.name.label("dataset_name"),
                dv.c.version.label("dataset_version"),
                rm.c.name.label("model_name"),
                mv.c.version.label("model_version"),
            )
            .outerjoin(dv, dv.c.pk == c.c.dataset_version_pk)
            .outerjoin(ds, ds.c.pk == dv.c.dataset_pk)
            .outerjoin(mv, mv.c.pk == c.c.model_version_pk)
            .outerjoin(rm, rm.c.pk == mv.c.model_pk)
            .order_by(c.c.created_at.desc(), c.c.pk.desc())
            .limit(limit)
        )
        with read_transaction(self.engine) as connection:
            if run_id is not None:
                query = query.where(c.c.id == run_id)
            if dataset_version_id is not None:
                query = query.where(
                    c.c.dataset_version_pk == _dataset_version_pk(connection, dataset_version_id)
                )
            if model is not None:
                query = query.where(c.c.model_version_pk == model_version_pk(connection, *model))
            if suite is not None:
                query = query.where(c.c.suite == suite)
            rows = connection.execute(query).all()
            results: dict[int, list[StoredCheckResult]] = {row.pk: [] for row in rows}
            if rows:
                for r in connection.execute(
                    select(t.check_results)
                    .where(t.check_results.c.run_pk.in_(list(results)))
                    .order_by(t.check_results.c.pk)
                ):
                    results[r.run_pk].append(
                        StoredCheckResult(
                            r.name,
                            r.kind,
                            r.severity,
                            bool(r.passed),
                            r.value,
                            r.threshold,
                            json.loads(r.details) if r.details else {},
                        )
                    )
        return [
            StoredCheckRun(
                id=row.id,
                suite=row.suite,
                dataset=None
                if row.dataset_name is None
                else f"{row.dataset_name}:{row.dataset_version}",
                model=None if row.model_name is None else f"{row.model_name}/{row.model_version}",
                passed=bool(row.passed),
                check_count=row.check_count,
                failed_count=row.failed_count,
                created_at=_when(row.created_at),
                created_by=row.created_by,
                results=tuple(results[row.pk]),
            )
            for row in rows
        ]

    def add_report(
        self, name: str, version: int, kind: str, method: str, body: dict[str, Any], actor: str
    ) -> ModelReport:
        """Store an explanation or fairness report with a model version."""
        report_id = uuid.uuid4().hex
        text = json.dumps(body, default=str)

        def write() -> int:
            with write_transaction(self.engine) as connection:
                pk = model_version_pk(connection, name, version)
                now = now_ms()
                connection.execute(
                    insert(t.model_reports).values(
                        id=report_id,
                        model_version_pk=pk,
                        kind=kind,
                        method=method,
                        body=text,
                        created_at=now,
                        created_by=actor,
                    )
                )
                append_event(
                    connection,
                    actor,
                    f"{kind}.record",
                    f"model:{name}/{version}",
                    details={"report": report_id, "method": method},
                    at_ms=now,
                )
                return now

        at = run_with_retry(write)
        return ModelReport(report_id, name, version, kind, method, body, _when(at), actor)

    def reports(self, name: str, version: int, kind: str | None = None) -> list[ModelReport]:
        """A model version's reports, newest first (optionally of one kind)."""
        r = t.model_reports
        with read_transaction(self.engine) as connection:
            pk = model_version_pk(connection, name, version)
            query = select(r).where(r.c.model_version_pk == pk).order_by(r.c.pk.desc())
            if kind is not None:
                query = query.where(r.c.kind == kind)
            rows = connection.execute(query).all()
        return [
            ModelReport(
                row.id,
                name,
                version,
                row.kind,
                row.method,
                json.loads(row.body),
                _when(row.created_at),
                row.created_by,
            )
            for row in rows
        ]
