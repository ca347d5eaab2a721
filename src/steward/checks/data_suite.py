"""Data suites: declarative expectations on a table, validated by pandera.

Column expectations (presence, dtype, nullability, ranges, allowed values,
uniqueness, patterns) and compound keys become one pandera
``DataFrameSchema``, validated once with ``lazy=True`` so every failure is
collected in one pass; pandera's failure cases are then counted per
expectation (a ``mostly`` share may fail) and a few failing rows sampled.
Row counts, freshness and custom functions are whole-table figures computed
directly. A suite is a ``CheckGroup``: ``run_all(context)`` runs it inside
``run_checks`` (and so the retraining gate).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.checks.expectations import (
    DTYPE_FAMILIES,
    Column,
    Custom,
    Freshness,
    RowCount,
    SuiteSpec,
    UniqueTogether,
    column_names,
    spec_from_dict,
)
from steward.checks.result import CheckContext, CheckReport, CheckResult
from steward.errors import InvalidInput, require

if TYPE_CHECKING:
    import pandas as pd

Expectation = Column | RowCount | Freshness | UniqueTogether | Custom
_MAX_LISTED = 8


def _listed(values: Iterable[Any]) -> str:
    items = [repr(value) for value in values]
    more = f", … ({len(items)} values)" if len(items) > _MAX_LISTED else ""
    return "{" + ", ".join(items[:_MAX_LISTED]) + more + "}"


def _family_matches(family: str, dtype: Any) -> bool:
    from pandas.api import types

    tests = {
        "int": types.is_integer_dtype,
        "float": types.is_float_dtype,
        "number": lambda d: types.is_numeric_dtype(d) and not types.is_bool_dtype(d),
        "string": lambda d: types.is_string_dtype(d) or types.is_object_dtype(d),
        "bool": types.is_bool_dtype,
        "datetime": types.is_datetime64_any_dtype,
        "category": lambda d: isinstance(d, types.CategoricalDtype),
    }
    return bool(tests[family](dtype))


class _Plan:
    """The pandera schema of a suite and how its failures map back to result names."""

    def __init__(self, spec: SuiteSpec) -> None:
        pa: Any = require("pandera.pandas", "checks", "data checks")
        self.spec = spec
        self.names: list[tuple[str, Column | None, str]] = []  # (result name, column, what)
        self.builtin: dict[tuple[str | None, str], str] = {}
        column_names(spec.columns)
        columns = {}
        for column in spec.columns:
            checks: list[Any] = []
            label = column.name

            def add(
                what: str,
                text: str,
                check: Any = None,
                col: Column = column,
                into: list[Any] = checks,
            ) -> str:
                name = f"{col.name}: {text}"
                self.names.append((name, col, what))
                if check is not None:
                    into.append(check)
                return name

            if column.required:
                self.builtin[(label, "column_in_dataframe")] = add("present", "present")
            dtype = None
            if column.dtype in DTYPE_FAMILIES:
                family = column.dtype
                name = f"{label}: dtype {family}"
                add(
                    "dtype",
                    f"dtype {family}",
                    pa.Check(
                        lambda series, family=family: _family_matches(family, series.dtype),
                        element_wise=False,
                        error=name,
                    ),
                )
            elif column.dtype is not None:
                dtype = column.dtype
                self.builtin[(label, "dtype")] = add("dtype", f"dtype {dtype}")
            if column.nullable is False:
                self.builtin[(label, "not_nullable")] = add("nulls", "not null")
            if column.min is not None and column.max is not None:
                text = f"in range [{column.min}, {column.max}]"
                add(
                    "values",
                    text,
                    pa.Check.in_range(column.min, column.max, error=f"{label}: {text}"),
                )
            elif column.min is not None:
                text = f">= {column.min}"
                add("values", text, pa.Check.ge(column.min, error=f"{label}: {text}"))
            elif column.max is not None:
                text = f"<= {column.max}"
                add("values", text, pa.Check.le(column.max, error=f"{label}: {text}"))
            if column.allowed is not None:
                text = f"in {_listed(column.allowed)}"
                add("values", text, pa.Check.isin(list(column.allowed), error=f"{label}: {text}"))
            if column.regex is not None:
                text = f"matches {column.regex!r}"
                add("values", text, pa.Check.str_matches(column.regex, error=f"{label}: {text}"))
            if column.unique:
                self.builtin[(label, "field_uniqueness")] = add("values", "unique")
            columns[label] = pa.Column(
                dtype,
                checks=checks,
                nullable=column.nullable is not False,
                unique=column.unique,
                required=column.required,
            )
        frame_checks = []
        for key in spec.unique_together:
            name = f"unique together ({', '.join(key.columns)})"
            self.names.append((name, None, "rows"))
            frame_checks.append(
                pa.Check(
                    lambda frame, cols=list(key.columns): ~frame.duplicated(cols, keep=False),
                    error=name,
                )
            )
        if spec.strict:
            self.builtin[(None, "column_in_schema")] = "no unexpected columns"
            self.names.append(("no unexpected columns", None, "schema"))
        self.schema = pa.DataFrameSchema(columns, checks=frame_checks, strict=spec.strict)
        self.severity = {column.name: column.severity for column in spec.columns}
        self.severity.update(
            {f"unique together ({', '.join(k.columns)})": k.severity for k in spec.unique_together}
        )

    def result_name(self, column: Any, check: Any) -> str | None:
        """The result a pandera failure case belongs to."""
        check = str(check)
        column = (
            None
            if column is None or (isinstance(column, float) and math.isnan(column))
            else str(column)
        )
        if check.startswith("dtype("):
            check = "dtype"
        found = self.builtin.get((column, check))
        if found is not None:
            return found
        if check == "column_in_dataframe":
            return None
        return check


def _failures(
    plan: _Plan, data: pd.DataFrame
) -> tuple[dict[str, int], dict[str, list[Any]], dict[str, list[str]]]:
    """Run the schema: failing row counts, sampled failing indexes and notes per result."""
    import pandas as pd

    errors = require("pandera.errors", "checks", "data checks")
    counts: dict[str, int] = {}
    indexes: dict[str, list[Any]] = {}
    notes: dict[str, list[str]] = defaultdict(list)
    try:
        plan.schema.validate(data, lazy=True)
    except errors.SchemaErrors as exc:  # type: ignore[attr-defined]
        cases = exc.failure_cases
        found: dict[str, list[Any]] = defaultdict(list)
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            if check == "column_in_dataframe":
                for missing in group["failure_case"]:
                    name = plan.builtin.get((str(missing), "column_in_dataframe"))
                    if name is not None:
                        counts[name] = 1
                        notes[name].append(f"column {missing!r} is missing")
                continue
            name = plan.result_name(column, check)
            if name is None:
                continue
            index = group["index"].dropna()
            if len(index):
                found[name].append(index)
            else:  # a whole-column failure (a dtype, unexpected columns)
                counts[name] = counts.get(name, 0) + len(group)
                notes[name] += [str(value) for value in group["failure_case"].head(10)]
        for name, parts in found.items():
            # A frame-wide check reports each failing row once per column: count rows.
            rows = pd.concat(parts).drop_duplicates()
            counts[name] = len(rows)
            indexes[name] = rows.head(plan.spec.sample_rows).tolist()
    except errors.SchemaError as exc:  # type: ignore[attr-defined]
        raise InvalidInput(f"the data could not be validated: {exc}") from exc
    return counts, indexes, notes


def _records(data: pd.DataFrame, index: list[Any], limit: int) -> list[dict[str, Any]]:
    if not index:
        return []
    present = [value for value in index if value in data.index][:limit]
    rows = data.loc[present]
    records: list[dict[str, Any]] = json.loads(rows.to_json(orient="records", date_format="iso"))
    for record, value in zip(records, present, strict=True):
        record["_row"] = value.item() if hasattr(value, "item") else value
    return records


class Suite:
    """A named list of data expectations, run as one pandera validation.

    Example::

        suite = Suite("triage", [
            Column("age", dtype="int", nullable=False, min=0, max=120),
            Column("sex", allowed=["F", "M"]),
            Column("patient_id", unique=True),
            RowCount(min=100),
            Freshness("7d", column="admitted_at"),
        ])
        report = suite.run(df)          # or run_suite(suite, "triage-train:3")
    """

    def __init__(
        self,
        name: str,
        expectations: Iterable[Expectation] = (),
        *,
        strict: bool = False,
        description: str | None = None,
        sample_rows: int = 10,
    ) -> None:
        columns, freshness, unique, custom = [], [], [], []
        rows = None
        for item in expectations:
            if isinstance(item, Column):
                columns.append(item)
            elif isinstance(item, RowCount):
                if rows is not None:
                    raise InvalidInput("a suite has at most one row-count expectation.")
                rows = item
            elif isinstance(item, Freshness):
                freshness.append(item)
            elif isinstance(item, UniqueTogether):
                unique.append(item)
            elif isinstance(item, Custom):
                custom.append(item)
            else:
                raise InvalidInput(f"{item!r} is not a data expectation.")
        if sample_rows < 0:
            raise InvalidInput("sample_rows must be 0 or more.")
        self.spec = SuiteSpec(
            name,
            tuple(columns),
            rows,
            tuple(freshness),
            tuple(unique),
            tuple(custom),
            strict,
            description,
            sample_rows,
        )
        column_names(self.spec.columns)
        self._plan: _Plan | None = None

    @classmethod
    def from_spec(cls, spec: SuiteSpec) -> Suite:
        """A suite from its spec."""
        suite = cls.__new__(cls)
        column_names(spec.columns)
        suite.spec = spec
        suite._plan = None
        return suite

    @property
    def name(self) -> str:
        """The suite's name."""
        return self.spec.name

    def to_dict(self) -> dict[str, Any]:
        """The suite-file form."""
        return self.spec.to_dict()

    def save(self, path: str | Path) -> Path:
        """Write the suite as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        target = Path(path)
        target.write_text(dump_suite(self, yaml=target.suffix in (".yaml", ".yml")))
        return target

    def run(self, data: Any, *, dataset: Any = None) -> CheckReport:
        """Check ``data`` (a DataFrame, or a dataset version or ``name:3``)."""
        from steward.checks.stored import as_frame

        frame, version = as_frame(data)
        source = dataset or version
        results = self.run_all(CheckContext(data=frame, dataset=source))
        subject = None if source is None else str(source.ref)
        return CheckReport(self.name, tuple(results), subject)

    def run_all(self, context: CheckContext) -> list[CheckResult]:
        """Every expectation's result on the context's data (its ``CheckGroup`` face)."""
        data = context.frame()
        if self._plan is None:
            self._plan = _Plan(self.spec)
        plan = self._plan
        counts, indexes, notes = _failures(plan, data)
        rows = len(data)
        results = []
        for name, column, what in plan.names:
            severity = column.severity if column is not None else plan.severity.get(name, "error")
            failing = counts.get(name, 0)
            details: dict[str, Any] = {"failing": failing}
            if notes.get(name):
                details["notes"] = notes[name][:10]
            if indexes.get(name):
                details["sample"] = _records(data, indexes[name], self.spec.sample_rows)
            missing = column is not None and column.name not in data.columns
            if what in ("values", "nulls", "rows"):
                mostly = column.mostly if column is not None else 1.0
                share = failing / rows if rows else 0.0
                allowed_share = round(1 - mostly, 12)
                passed = share <= allowed_share
                if missing and column is not None:
                    passed = passed and not column.required
                    details["notes"] = [f"column {column.name!r} is missing"]
                results.append(
                    CheckResult(name, passed, share, allowed_share, details, "data", severity)
                )
            else:
                if what == "dtype" and failing and column is not None and not missing:
                    details["actual"] = str(data[column.name].dtype)
                results.append(
                    CheckResult(name, failing == 0, None, None, details, "data", severity)
                )
        if self.spec.rows is not None:
            results.append(_row_count(self.spec.rows, rows))
        for item in self.spec.freshness:
            results.append(_freshness(item, data, context.dataset))
        for custom in self.spec.custom:
            results.append(_custom(custom, data, self.spec.sample_rows))
        return results


def _row_count(expect: RowCount, rows: int) -> CheckResult:
    low, high = expect.min, expect.max
    passed = (low is None or rows >= low) and (high is None or rows <= high)
    if low is not None and high is not None:
        name, threshold = f"rows: between {low} and {high}", None
    elif low is not None:
        name, threshold = f"rows: at least {low}", float(low)
    else:
        name, threshold = f"rows: at most {high}", float(high)  # type: ignore[arg-type]
    details = {"min": low, "max": high}
    return CheckResult(name, passed, float(rows), threshold, details, "data", expect.severity)


def _freshness(expect: Freshness, data: pd.DataFrame, dataset: Any) -> CheckResult:
    import pandas as pd

    now = datetime.now(UTC)
    limit = expect.max_age.total_seconds()
    if expect.column is None:
        name = f"dataset version added within {expect.to_dict()['max_age']}"
        if dataset is None:
            return CheckResult(
                name,
                False,
                None,
                limit,
                {"notes": ["no dataset version: run the suite on name:version"]},
                "data",
                expect.severity,
            )
        newest = dataset.created_at
    else:
        name = f"{expect.column}: newest within {expect.to_dict()['max_age']}"
        if expect.column not in data.columns:
            notes = {"notes": [f"column {expect.column!r} is missing"]}
            return CheckResult(name, False, None, limit, notes, "data", expect.severity)
        values = pd.to_datetime(data[expect.column], utc=True, errors="coerce")
        newest = values.max()
        if pd.isna(newest):
            notes = {"notes": ["no parseable times in the column"]}
            return CheckResult(name, False, None, limit, notes, "data", expect.severity)
        newest = newest.to_pydatetime()
    age = (now - newest).total_seconds()
    details = {"newest": newest.isoformat(), "age_seconds": age}
    return CheckResult(name, age <= limit, age, limit, details, "data", expect.severity)


def _custom(expect: Custom, data: pd.DataFrame, sample_rows: int) -> CheckResult:
    import numpy as np
    import pandas as pd

    function = expect.function
    if isinstance(function, str):
        raise InvalidInput(
            f"custom check {expect.name!r} names {function!r}; load its suite with trust_code=True."
        )
    try:
        outcome = function(data)
    except Exception as exc:  # a user's function: report its failure as the check's
        error = {"error": f"{type(exc).__name__}: {exc}"}
        return CheckResult(expect.name, False, None, None, error, "data", expect.severity)
    if isinstance(outcome, pd.Series) and outcome.dtype == bool:
        failing_mask = ~outcome
        failing = int(failing_mask.sum())
        share = failing / len(outcome) if len(outcome) else 0.0
        sample = _records(
            data, outcome.index[failing_mask.to_numpy()][:sample_rows].tolist(), sample_rows
        )
        details: dict[str, Any] = {"failing": failing, "sample": sample}
        allowed_share = round(1 - expect.mostly, 12)
        return CheckResult(
            expect.name,
            share <= allowed_share,
            share,
            allowed_share,
            details,
            "data",
            expect.severity,
        )
    if isinstance(outcome, bool | np.bool_):
        return CheckResult(expect.name, bool(outcome), None, None, {}, "data", expect.severity)
    if isinstance(outcome, int | float | np.number):
        value = float(outcome)
        passed = (expect.min is None or value >= expect.min) and (
            expect.max is None or value <= expect.max
        )
        threshold = expect.min if expect.min is not None else expect.max
        bounds: dict[str, Any] = {"min": expect.min, "max": expect.max}
        return CheckResult(expect.name, passed, value, threshold, bounds, "data", expect.severity)
    raise InvalidInput(
        f"custom check {expect.name!r} returned {type(outcome).__name__}; return a bool, a "
        "boolean Series (one per row) or a number."
    )


def dump_suite(suite: Suite, yaml: bool = True) -> str:
    """The suite file's text, as YAML (needs PyYAML) or JSON."""
    data = suite.to_dict()
    if yaml:
        module = require("yaml", "checks", "YAML suite files")
        return str(module.safe_dump(data, sort_keys=False, allow_unicode=True))  # type: ignore[attr-defined]
    return json.dumps(data, indent=2) + "\n"


def load_suite(path: str | Path, *, trust_code: bool = False) -> Suite:
    """Read a suite file (YAML or JSON).

    Args:
        path: the file.
        trust_code: allow ``custom`` expectations, which import and run code the file names.

    Raises:
        NotFound: no such file.
        InvalidInput: not a valid suite (the message names what is wrong).
    """
    from steward.errors import NotFound

    source = Path(path)
    if not source.is_file():
        raise NotFound(
            f"no suite file at {source}; write one or start from 'steward checks suggest'."
        )
    text = source.read_text(encoding="utf-8")
    if source.suffix in (".yaml", ".yml"):
        module = require("yaml", "checks", "YAML suite files")
        try:
            data = module.safe_load(text)  # type: ignore[attr-defined]
        except module.YAMLError as exc:  # type: ignore[attr-defined]
            raise InvalidInput(f"{source} is not valid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{source} must hold a mapping with 'columns', 'rows'…")
    try:
        spec = spec_from_dict(data, default_name=source.stem, trust_code=trust_code)
    except TypeError as exc:
        raise InvalidInput(f"{source}: {exc}") from exc
    return Suite.from_spec(spec)
