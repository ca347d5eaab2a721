"""A starting data suite inferred from a dataset version's stored profile.

Nothing of the data itself is read: the profile already holds each column's
type, null count, range, distinct-count estimate and most frequent values.
The suggestion is a start to edit, not a verdict: ranges are the observed
ones, categories are proposed only where the profile saw every value, and
uniqueness only where the distinct estimate reaches the row count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.checks.data_suite import Suite
from steward.checks.expectations import Column, RowCount
from steward.errors import InvalidInput

if TYPE_CHECKING:
    from steward.data.profile import ColumnProfile, TableProfile
    from steward.data.versions import DatasetVersion

MAX_CATEGORIES = 20
"""A categorical column with at most this many values gets an ``allowed`` list."""
UNIQUE_SHARE = 0.99
"""A distinct estimate (HyperLogLog, ~1.6% error) at least this share of the rows
suggests ``unique``."""


def _dtype(column: ColumnProfile) -> str | None:
    arrow = column.dtype
    if arrow.startswith(("int", "uint")):
        # pandas reads an integer column with nulls as floats.
        return "int" if column.nulls == 0 else "number"
    if arrow in ("float", "double", "halffloat") or arrow.startswith("decimal"):
        return "number"
    if arrow == "bool":
        return "bool"
    if arrow.startswith("timestamp") or arrow.startswith("date"):
        return "datetime"
    if arrow in ("string", "large_string") or arrow.startswith("dictionary"):
        return "string"
    return None


def _column(column: ColumnProfile, rows: int) -> Column:
    dtype = _dtype(column)
    minimum = maximum = None
    allowed = None
    if column.kind == "numeric" and column.min is not None and column.max is not None:
        minimum, maximum = column.min, column.max
        if dtype == "int":
            minimum, maximum = int(minimum), int(maximum)
    if column.kind == "categorical" and dtype != "bool" and column.other == 0:
        values = sorted(column.top)
        if 0 < len(values) <= MAX_CATEGORIES:
            allowed = tuple(values)
    unique = (
        column.nulls == 0
        and rows > 1
        and column.kind in ("numeric", "categorical")
        and dtype in ("int", "string")
        and column.distinct >= UNIQUE_SHARE * rows
    )
    return Column(
        column.name,
        dtype=dtype,
        nullable=False if column.nulls == 0 else None,
        min=minimum,
        max=maximum,
        allowed=allowed,
        unique=unique,
    )


def suggest_from_profile(profile: TableProfile, name: str) -> Suite:
    """A suite whose expectations hold for the profiled table."""
    expectations: list[Column | RowCount] = [_column(c, profile.rows) for c in profile.columns]
    if profile.rows:
        expectations.append(RowCount(min=max(1, profile.rows // 2), max=profile.rows * 2))
    return Suite(
        name,
        expectations,
        description=f"suggested from the profile of {profile.rows} rows; review before use",
    )


def suggest_suite(dataset: DatasetVersion | str) -> Suite:
    """A starting suite for a dataset version, from its stored profile alone.

    Raises:
        InvalidInput: the version has no tabular files (so no profile).
    """
    from steward.data.versions import resolve

    version = resolve(dataset)
    profile = version.profile()
    if profile is None:
        raise InvalidInput(
            f"{version.ref} has no profile (no CSV or Parquet files), so no suite can be "
            "suggested from it."
        )
    return suggest_from_profile(profile, version.name)
