"""SQL for retraining budgets: per registered model, the limits the agent's firings keep."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from steward.store import schema as t
from steward.store.agent_records import BudgetRecord
from steward.store.audit import append_event
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import ms_to_datetime, now_ms


def _budget(row: Any) -> BudgetRecord:
    return BudgetRecord(
        model=row.model,
        max_per_day=row.max_per_day,
        max_per_week=row.max_per_week,
        max_cpu_seconds=row.max_cpu_seconds,
        period=row.period,
        min_interval_s=row.min_interval_s,
        persistence=row.persistence,
        channels=tuple(json.loads(row.channels)),
        updated_at=ms_to_datetime(row.updated_at),  # type: ignore[arg-type]
        updated_by=row.updated_by,
    )


class BudgetStore:
    """Retraining budgets in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set(self, model: str, limits: dict[str, Any], actor: str) -> BudgetRecord:
        """Create or replace a model's budget (``limits``: the budget's columns)."""

        def write() -> BudgetRecord:
            now = now_ms()
            values = {**limits, "channels": json.dumps(list(limits["channels"]))}
            values.update(updated_at=now, updated_by=actor)
            with write_transaction(self.engine) as connection:
                before = self._budget(connection, model)
                if before is None:
                    connection.execute(insert(t.retrain_budgets).values(model=model, **values))
                else:
                    connection.execute(
                        update(t.retrain_budgets)
                        .where(t.retrain_budgets.c.model == model)
                        .values(values)
                    )
                append_event(
                    connection,
                    actor,
                    "budget.set",
                    f"budget:{model}",
                    None if before is None else json.dumps(before.to_dict(), default=str),
                    json.dumps(limits, default=str, sort_keys=True),
                    at_ms=now,
                )
                found = self._budget(connection, model)
                assert found is not None
                return found

        return run_with_retry(write)

    @staticmethod
    def _budget(connection: Connection, model: str) -> BudgetRecord | None:
        row = connection.execute(
            select(t.retrain_budgets).where(t.retrain_budgets.c.model == model)
        ).first()
        return None if row is None else _budget(row)

    def get(self, model: str) -> BudgetRecord | None:
        """The model's budget, or None when it has none (no limits)."""
        with read_transaction(self.engine) as connection:
            return self._budget(connection, model)
