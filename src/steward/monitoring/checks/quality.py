"""Data quality of a window against its reference.

Missing values, infinities, values outside the reference range, categories
the reference never saw, schema changes (missing, new, retyped columns) and
duplicate rows. All but duplicates come from mergeable summaries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from steward.monitoring.checks.result import SchemaChanges, _clean
from steward.monitoring.statistics.summary import (
    OTHER,
    CategoricalSummary,
    DatasetSummary,
    NumericSummary,
    as_summary,
    summarize,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ColumnQuality:
    """Quality figures of one column in the current window (rates are shares of rows)."""

    column: str
    kind: str
    rows: int
    missing: int
    missing_rate: float
    reference_missing_rate: float | None
    infinities: int = 0
    out_of_range: int = 0
    out_of_range_rate: float = 0.0
    unseen_categories: int = 0
    unseen_rate: float = 0.0
    unseen_examples: tuple[str, ...] = ()
    constant: bool = False
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        data = asdict(self)
        data["unseen_examples"] = list(self.unseen_examples)
        data["notes"] = list(self.notes)
        return {key: _clean(value) for key, value in data.items()}


@dataclass(frozen=True)
class QualityResult:
    """Quality of a window: per column, the schema, and duplicate rows."""

    rows: int
    columns: tuple[ColumnQuality, ...]
    schema: SchemaChanges
    duplicate_rows: int | None = None

    @property
    def duplicate_rate(self) -> float | None:
        """Share of rows that repeat an earlier row (None when not counted)."""
        if self.duplicate_rows is None:
            return None
        return self.duplicate_rows / self.rows if self.rows else 0.0

    def column(self, name: str) -> ColumnQuality:
        """The figures of one column.

        Raises:
            KeyError: no such column in the current window.
        """
        for row in self.columns:
            if row.column == name:
                return row
        raise KeyError(name)

    def metrics(self) -> dict[str, float]:
        """Flat numbers for alert rules: ``quality.missing.<column>``, ``quality.duplicates``…"""
        values: dict[str, float] = {
            "quality.schema.missing": float(len(self.schema.missing)),
            "quality.schema.new": float(len(self.schema.new)),
            "quality.schema.retyped": float(len(self.schema.retyped)),
        }
        if self.duplicate_rate is not None:
            values["quality.duplicates"] = self.duplicate_rate
        for row in self.columns:
            values[f"quality.missing.{row.column}"] = row.missing_rate
            values[f"quality.out_of_range.{row.column}"] = row.out_of_range_rate
            values[f"quality.unseen.{row.column}"] = row.unseen_rate
        return values

    def to_pandas(self) -> pd.DataFrame:
        """One row per column."""
        import pandas as pd

        rows = [row.to_dict() for row in self.columns]
        for row in rows:
            row["notes"] = "; ".join(row["notes"])
            row["unseen_examples"] = ", ".join(row["unseen_examples"])
        return pd.DataFrame(rows, columns=list(ColumnQuality.__dataclass_fields__))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "duplicate_rate": self.duplicate_rate,
            "schema": self.schema.to_dict(),
            "columns": [row.to_dict() for row in self.columns],
        }


def quality(
    reference: Any, current: Any, categorical: list[str] | tuple[str, ...] = ()
) -> QualityResult:
    """Check the quality of ``current`` against ``reference``.

    Args:
        reference: a DataFrame, pyarrow Table or ``DatasetSummary``.
        current: the window to check; duplicates are counted when it is a DataFrame.
        categorical: columns to treat as categorical whatever their dtype.

    Returns:
        A ``QualityResult``; problems are reported in it, never raised.
    """
    reference_summary = as_summary(reference, None, categorical, 0)
    if isinstance(current, DatasetSummary):
        current_summary = current
    else:
        current_summary = summarize(
            current,
            like=reference_summary,
            categorical=categorical,
            sample_size=0,
            count_duplicates=True,
        )
    schema = SchemaChanges.between(reference_summary, current_summary)
    return quality_from_summaries(reference_summary, current_summary, schema)


def quality_from_summaries(
    reference: DatasetSummary, current: DatasetSummary, schema: SchemaChanges
) -> QualityResult:
    """Quality figures from two summaries (duplicates only if ``current`` counted them)."""
    rows = []
    for name, column in current.columns.items():
        known = reference.columns.get(name)
        total = column.rows
        reference_missing = None
        notes: list[str] = []
        if isinstance(known, NumericSummary | CategoricalSummary):
            reference_missing = known.nulls / known.rows if known.rows else None
        if isinstance(column, NumericSummary):
            out_of_range = 0
            if isinstance(known, NumericSummary) and known.count:
                below = column.counts[0] if known.minimum >= column.edges[0] else 0
                above = column.counts[-1] if known.maximum <= column.edges[-1] else 0
                out_of_range = int(below + above)
            constant = column.count > 1 and column.minimum == column.maximum
            if column.count == 0 and total:
                notes.append("every value is missing")
            rows.append(
                ColumnQuality(
                    column=name,
                    kind="numeric",
                    rows=total,
                    missing=column.nulls,
                    missing_rate=column.nulls / total if total else 0.0,
                    reference_missing_rate=reference_missing,
                    infinities=column.infinities,
                    out_of_range=out_of_range,
                    out_of_range_rate=out_of_range / total if total else 0.0,
                    constant=bool(constant),
                    notes=tuple(notes),
                )
            )
        elif isinstance(column, CategoricalSummary):
            unseen: list[str] = []
            unseen_count = 0
            if isinstance(known, CategoricalSummary) and OTHER not in known.counts:
                unseen = [key for key in column.counts if key not in known.counts]
                unseen_count = sum(column.counts[key] for key in unseen)
            elif isinstance(known, CategoricalSummary):
                notes.append("the reference pooled rare categories: unseen ones are not counted")
            if column.count == 0 and total:
                notes.append("every value is missing")
            rows.append(
                ColumnQuality(
                    column=name,
                    kind="categorical",
                    rows=total,
                    missing=column.nulls,
                    missing_rate=column.nulls / total if total else 0.0,
                    reference_missing_rate=reference_missing,
                    unseen_categories=len(unseen),
                    unseen_rate=unseen_count / total if total else 0.0,
                    unseen_examples=tuple(sorted(unseen)[:5]),
                    constant=len(column.counts) == 1 and column.count > 1,
                    notes=tuple(notes),
                )
            )
        else:
            rows.append(
                ColumnQuality(
                    column=name,
                    kind=column.kind,
                    rows=total,
                    missing=0,
                    missing_rate=0.0,
                    reference_missing_rate=None,
                    notes=("type not checked",),
                )
            )
    return QualityResult(
        rows=current.rows,
        columns=tuple(rows),
        schema=schema,
        duplicate_rows=current.duplicate_rows,
    )
