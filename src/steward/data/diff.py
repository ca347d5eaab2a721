"""Comparing two dataset versions: files, rows, schema and statistics."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steward.data.profile import ColumnProfile, TableProfile
from steward.data.versions import DatasetVersion, resolve
from steward.errors import InvalidInput

_STATISTICS = ("count", "nulls", "distinct", "min", "max", "mean", "std")


@dataclass(frozen=True)
class TableDiff:
    """How one table (a CSV or Parquet file) changed between two versions."""

    path: str
    rows_before: int
    rows_after: int
    rows_added: int | None = None
    rows_removed: int | None = None
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    type_changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    statistic_shifts: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetDiff:
    """What changed from version ``a`` to version ``b``."""

    a: str
    b: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int
    tables: list[TableDiff]

    @property
    def identical(self) -> bool:
        """Whether both versions hold the same files."""
        return not (self.added or self.removed or self.changed)


TOP_SHARES = 5
"""Categories whose share of the rows a diff compares (the most frequent in either version)."""


def _statistics(column: ColumnProfile, categories: Sequence[str]) -> dict[str, Any]:
    """Summary numbers, quantiles, and the share of each of ``categories`` (rounded)."""
    statistics = {name: getattr(column, name) for name in _STATISTICS}
    statistics.update(column.quantiles())
    total = column.count or 1
    for category in categories:
        statistics[f"share {category!r}"] = round(column.top.get(category, 0) / total, 4)
    return statistics


def _shared_columns(
    before: TableProfile, after: TableProfile
) -> Iterator[tuple[ColumnProfile, ColumnProfile]]:
    """Each column both tables have: (its profile before, its profile after)."""
    theirs = {column.name: column for column in after.columns}
    for column in before.columns:
        other = theirs.get(column.name)
        if other is not None:
            yield column, other


def _shifts(before: TableProfile, after: TableProfile) -> dict[str, dict[str, tuple[Any, Any]]]:
    shifts: dict[str, dict[str, tuple[Any, Any]]] = {}
    for column, other in _shared_columns(before, after):
        categories = {value for value, _ in column.top_values(TOP_SHARES)}
        categories |= {value for value, _ in other.top_values(TOP_SHARES)}
        old = _statistics(column, sorted(categories))
        new = _statistics(other, sorted(categories))
        changed = {key: (old.get(key), new.get(key)) for key in {**old, **new}}
        changed = {key: pair for key, pair in changed.items() if pair[0] != pair[1]}
        if changed:
            shifts[column.name] = changed
    return shifts


def _row_hashes(
    version: DatasetVersion, path: str, columns: Sequence[str], types: dict[str, Any]
) -> np.ndarray:
    """A 64-bit hash of each row's ``columns`` (cast to ``types``), read a batch at a time."""
    import pandas as pd
    import pyarrow as pa

    hashes = []
    for batch in version.iter_batches(path, columns):
        schema = pa.schema([(f.name, types.get(f.name, f.type)) for f in batch.schema])
        frame = batch.cast(schema).to_pandas()
        hashes.append(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    return np.concatenate(hashes) if hashes else np.empty(0, dtype=np.uint64)


def _common_types(before: TableProfile, after: TableProfile) -> dict[str, Any]:
    """For columns whose type changed: one both versions convert to (so 1 equals 1.0)."""
    import pyarrow as pa

    types = {}
    for column, other in _shared_columns(before, after):
        if other.dtype != column.dtype:
            numeric = column.kind == other.kind == "numeric"
            types[column.name] = pa.float64() if numeric else pa.string()
    return types


def _row_changes(
    a: DatasetVersion,
    b: DatasetVersion,
    path_a: str,
    path_b: str,
    key: Sequence[str] | None,
    profiles: tuple[TableProfile, TableProfile],
) -> tuple[int, int]:
    """Rows added and removed: by key, else by content (rows as multisets).

    Rows are compared by 64-bit hashes of the key or shared columns, read a
    batch at a time: 8 bytes per row in memory, whatever the table's width.
    """
    import pandas as pd

    shared = [column.name for column, _ in _shared_columns(*profiles)]
    types = _common_types(*profiles)
    if key:
        missing = [k for k in key if k not in shared]
        if missing:
            raise InvalidInput(f"key columns {missing} are not in both versions of {path_a}.")
        old = _row_hashes(a, path_a, key, types)
        new = _row_hashes(b, path_b, key, types)
        return int((~np.isin(new, old)).sum()), int((~np.isin(old, new)).sum())
    old_counts = pd.Series(_row_hashes(a, path_a, shared, types)).value_counts()
    new_counts = pd.Series(_row_hashes(b, path_b, shared, types)).value_counts()
    difference = new_counts.sub(old_counts, fill_value=0)
    return int(difference[difference > 0].sum()), int(-difference[difference < 0].sum())


def diff(
    a: DatasetVersion | str,
    b: DatasetVersion | str,
    key: str | Sequence[str] | None = None,
    rows: bool = True,
) -> DatasetDiff:
    """Compare version ``a`` (before) with version ``b`` (after).

    Args:
        a: the earlier version (a DatasetVersion or ``"name:version"``).
        b: the later version.
        key: column(s) identifying a row; rows are then matched by key, else by content.
        rows: count added and removed rows (reads both tables); False compares
            only files, schema and statistics.
    """
    first, second = resolve(a), resolve(b)
    before, after = first.manifest().by_path(), second.manifest().by_path()
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p].digest != after[p].digest)
    keys = [key] if isinstance(key, str) else list(key or [])
    profiles_a, profiles_b = first.profiles(), second.profiles()
    pairs = [(p, p) for p in changed if p in profiles_a and p in profiles_b]
    if first.name != second.name or not pairs:
        lone_a = [p for p in removed if p in profiles_a]
        lone_b = [p for p in added if p in profiles_b]
        if len(lone_a) == 1 and len(lone_b) == 1:
            pairs.append((lone_a[0], lone_b[0]))
    tables = []
    for path_a, path_b in pairs:
        old, new = profiles_a[path_a], profiles_b[path_b]
        old_types = {c.name: c.dtype for c in old.columns}
        new_types = {c.name: c.dtype for c in new.columns}
        rows_added = rows_removed = None
        if rows:
            rows_added, rows_removed = _row_changes(
                first, second, path_a, path_b, keys or None, (old, new)
            )
        tables.append(
            TableDiff(
                path=path_b,
                rows_before=old.rows,
                rows_after=new.rows,
                rows_added=rows_added,
                rows_removed=rows_removed,
                columns_added=[n for n in new_types if n not in old_types],
                columns_removed=[n for n in old_types if n not in new_types],
                type_changes={
                    n: (old_types[n], new_types[n])
                    for n in old_types
                    if n in new_types and old_types[n] != new_types[n]
                },
                statistic_shifts=_shifts(old, new),
            )
        )
    unchanged = len(set(before) & set(after)) - len(changed)
    return DatasetDiff(first.ref, second.ref, added, removed, changed, unchanged, tables)
