"""What a drift check returns: one row per column and an overall verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

    from steward.monitoring.checks.estimated import EstimatedPerformance
    from steward.monitoring.checks.performance import PerformanceResult
    from steward.monitoring.checks.quality import QualityResult
    from steward.monitoring.statistics.summary import DatasetSummary

Role = Literal["feature", "prediction", "target"]
Status = Literal["ok", "warning", "skipped", "missing", "retyped", "empty"]


@dataclass(frozen=True)
class FeatureDrift:
    """The drift check of one column.

    ``score`` is what the verdict compares with ``threshold``: an adjusted
    p-value for hypothesis tests (drift when at most the threshold), a distance
    otherwise (drift when at least the threshold). ``effect_size`` is the size of
    the change whatever the test: the Wasserstein distance in reference standard
    deviations for numeric columns, the Jensen-Shannon distance for categorical ones.
    """

    column: str
    kind: str
    role: Role
    test: str | None
    statistic: float | None
    p_value: float | None
    score: float | None
    threshold: float | None
    drifted: bool | None
    effect_size: float | None
    effect_measure: str | None
    psi: float | None = None
    js_distance: float | None = None
    wasserstein: float | None = None
    ks_statistic: float | None = None
    n_reference: int = 0
    n_current: int = 0
    importance: float = 1.0
    status: Status = "ok"
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (NaN and infinities as None / strings)."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return {key: _clean(value) for key, value in data.items()}


@dataclass(frozen=True)
class SchemaChanges:
    """Columns missing from, new in, or of another type in the current window."""

    missing: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()

    @property
    def any(self) -> bool:
        """True when the schema changed at all."""
        return bool(self.missing or self.new or self.retyped)

    @classmethod
    def between(cls, reference: DatasetSummary, current: DatasetSummary) -> SchemaChanges:
        """Columns missing, new or retyped in ``current`` relative to ``reference``."""
        missing = tuple(name for name in reference.columns if name not in current.columns)
        new = tuple(name for name in current.columns if name not in reference.columns)
        retyped = tuple(
            (name, reference.dtypes.get(name, "?"), current.dtypes.get(name, "?"))
            for name in reference.columns
            if name in current.columns
            and (
                reference.columns[name].kind != current.columns[name].kind
                or reference.dtypes.get(name) != current.dtypes.get(name)
            )
        )
        return cls(missing=missing, new=new, retyped=retyped)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "missing": list(self.missing),
            "new": list(self.new),
            "retyped": [
                {"column": name, "reference": before, "current": after}
                for name, before, after in self.retyped
            ],
        }


@dataclass(frozen=True)
class DriftResult:
    """The outcome of ``steward.monitoring.drift``."""

    features: tuple[FeatureDrift, ...]
    dataset_drift: bool
    drift_share: float
    drift_share_threshold: float
    schema: SchemaChanges
    reference_rows: int
    current_rows: int
    quality: QualityResult | None = None
    reference_summary: DatasetSummary | None = field(default=None, repr=False)
    current_summary: DatasetSummary | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()

    @property
    def drifted(self) -> list[str]:
        """Names of the drifted feature columns (prediction and target excluded)."""
        return [f.column for f in self.features if f.role == "feature" and f.drifted]

    @property
    def prediction_drift(self) -> FeatureDrift | None:
        """The check of the prediction column, when one was named."""
        return next((f for f in self.features if f.role == "prediction"), None)

    @property
    def target_drift(self) -> FeatureDrift | None:
        """The check of the label column, when one was named."""
        return next((f for f in self.features if f.role == "target"), None)

    def feature(self, column: str) -> FeatureDrift:
        """The row of one column.

        Raises:
            KeyError: no such column was checked.
        """
        for row in self.features:
            if row.column == column:
                return row
        raise KeyError(column)

    def metrics(self) -> dict[str, float]:
        """Flat numbers for alert rules: ``drift.share``, ``drift.count``, ``drift.<column>``…"""
        values: dict[str, float] = {
            "drift.share": self.drift_share,
            "drift.dataset": float(self.dataset_drift),
            "drift.count": float(len(self.drifted)),
            "drift.schema_changes": float(
                len(self.schema.missing) + len(self.schema.new) + len(self.schema.retyped)
            ),
        }
        for row in self.features:
            if row.effect_size is not None:
                values[f"drift.{row.column}"] = row.effect_size
            if row.role != "feature" and row.drifted is not None:
                values[f"drift.{row.role}"] = float(row.drifted)
        if self.quality is not None:
            values.update(self.quality.metrics())
        return values

    def to_pandas(self) -> pd.DataFrame:
        """One row per column."""
        import pandas as pd

        rows = [row.to_dict() for row in self.features]
        for row in rows:
            row["notes"] = "; ".join(row["notes"])
        return pd.DataFrame(rows, columns=list(FeatureDrift.__dataclass_fields__))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": _clean(self.drift_share),
            "drift_share_threshold": self.drift_share_threshold,
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "schema": self.schema.to_dict(),
            "features": [row.to_dict() for row in self.features],
            "quality": self.quality.to_dict() if self.quality is not None else None,
            "notes": list(self.notes),
        }

    def to_html(
        self,
        path: str | Path,
        performance: PerformanceResult | None = None,
        estimated: EstimatedPerformance | None = None,
        title: str = "Steward monitoring report",
    ) -> Path:
        """Write a self-contained HTML report (works offline) and return its path.

        Args:
            path: where to write the page.
            performance: realised performance of the same window, for its section.
            estimated: estimated performance (CBPE), shown beside the realised one.
            title: the page title.
        """
        from steward.monitoring.report.window import write_report

        return write_report(
            path, drift=self, performance=performance, estimated=estimated, title=title
        )


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
