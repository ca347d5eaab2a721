"""The expectations a data suite is made of, as plain frozen dataclasses.

Each can be written in Python or read from a suite file (YAML or JSON);
``to_dict``/``from_dict`` are exact inverses, so a suggested suite can be
saved, edited and read back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from steward.errors import InvalidInput

DTYPE_FAMILIES = ("int", "float", "number", "string", "bool", "datetime", "category")
"""Dtype names that match a family of pandas dtypes (any width, nullable or not)."""

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(value: str | float | timedelta) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, seconds, or a timedelta, as a timedelta.

    Raises:
        InvalidInput: anything else.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=float(value))
    match = _AGE.match(str(value))
    if not match:
        raise InvalidInput(
            f"max_age {value!r} is not a duration; write e.g. '7d', '12h', '30m' or seconds."
        )
    return timedelta(seconds=float(match.group(1)) * _AGE_UNITS[match.group(2)])


def _age_text(age: timedelta) -> str:
    seconds = age.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds % _AGE_UNITS[unit] == 0 and seconds >= _AGE_UNITS[unit]:
            return f"{int(seconds // _AGE_UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def _check_keys(kind: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{kind} must be a mapping, got {type(data).__name__}.")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(f"{kind}: unknown key(s) {unknown}; allowed: {sorted(allowed)}.")


def _check_mostly(mostly: float) -> float:
    if not 0 < float(mostly) <= 1:
        raise InvalidInput(f"mostly must be in (0, 1], got {mostly!r}.")
    return float(mostly)


def _check_severity(severity: str) -> str:
    if severity not in ("error", "warning"):
        raise InvalidInput(f"severity must be 'error' or 'warning', got {severity!r}.")
    return severity


@dataclass(frozen=True)
class Column:
    """Expectations on one column.

    Attributes:
        name: the column.
        dtype: a pandas dtype (``int64``, ``float64``, ``datetime64[ns]``…) or a
            family (``int``, ``float``, ``number``, ``string``, ``bool``,
            ``datetime``, ``category``).
        nullable: False: no missing values allowed (None: not checked).
        min: smallest allowed value (inclusive).
        max: largest allowed value (inclusive).
        allowed: the only values allowed (categories).
        unique: no value may repeat.
        regex: every value must match this pattern (strings).
        required: the column must be present.
        mostly: the share of rows that must pass the value checks (1.0: all).
        severity: ``error`` or ``warning`` (reported, does not fail the suite).
    """

    name: str
    dtype: str | None = None
    nullable: bool | None = None
    min: float | str | None = None
    max: float | str | None = None
    allowed: tuple[Any, ...] | None = None
    unique: bool = False
    regex: str | None = None
    required: bool = True
    mostly: float = 1.0
    severity: str = "error"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput("a column expectation needs a column name.")
        if self.allowed is not None and not isinstance(self.allowed, tuple):
            object.__setattr__(self, "allowed", tuple(self.allowed))
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise InvalidInput(f"column {self.name!r}: regex {self.regex!r}: {exc}") from exc
        _check_mostly(self.mostly)
        _check_severity(self.severity)

    def to_dict(self) -> dict[str, Any]:
        """The suite-file form (defaults left out)."""
        data: dict[str, Any] = {}
        for key in ("dtype", "nullable", "min", "max", "regex"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.allowed is not None:
            data["allowed"] = list(self.allowed)
        if self.unique:
            data["unique"] = True
        if not self.required:
            data["required"] = False
        if self.mostly != 1.0:
            data["mostly"] = self.mostly
        if self.severity != "error":
            data["severity"] = self.severity
        return data

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any] | None) -> Column:
        """Read the suite-file form."""
        data = data or {}
        _check_keys(
            f"column {name!r}",
            data,
            {
                "dtype",
                "nullable",
                "min",
                "max",
                "allowed",
                "unique",
                "regex",
                "required",
                "mostly",
                "severity",
            },
        )
        allowed = data.get("allowed")
        if allowed is not None and not isinstance(allowed, list | tuple):
            raise InvalidInput(f"column {name!r}: allowed must be a list of values.")
        return cls(
            name=str(name), **{**data, "allowed": None if allowed is None else tuple(allowed)}
        )


@dataclass(frozen=True)
class RowCount:
    """The table has between ``min`` and ``max`` rows (either may be None)."""

    min: int | None = None
    max: int | None = None
    severity: str = "error"

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise InvalidInput("a row-count expectation needs min, max or both.")
        _check_severity(self.severity)

    def to_dict(self) -> dict[str, Any]:
        """The suite-file form."""
        data: dict[str, Any] = {
            k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None
        }
        if self.severity != "error":
            data["severity"] = self.severity
        return data


@dataclass(frozen=True)
class Freshness:
    """The newest value of ``column`` (a time) is at most ``max_age`` old; without a
    column, the dataset version itself was added at most ``max_age`` ago."""

    max_age: timedelta
    column: str | None = None
    severity: str = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_age", parse_age(self.max_age))
        _check_severity(self.severity)

    def to_dict(self) -> dict[str, Any]:
        """The suite-file form."""
        data: dict[str, Any] = {"max_age": _age_text(self.max_age)}
        if self.column is not None:
            data["column"] = self.column
        if self.severity != "error":
            data["severity"] = self.severity
        return data


@dataclass(frozen=True)
class UniqueTogether:
    """No two rows share the same values in all of ``columns`` (a compound key)."""

    columns: tuple[str, ...]
    severity: str = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        if len(self.columns) < 1:
            raise InvalidInput("a unique-together expectation needs at least one column.")
        _check_severity(self.severity)


CustomFunction = Callable[[Any], Any]


@dataclass(frozen=True)
class Custom:
    """A function of the DataFrame: it returns a bool, a boolean Series (True where a row
    passes; failing rows are sampled) or a number (compared with ``min``/``max``).

    From a suite file, ``function`` is ``"module:function"`` and is imported only
    when the suite is loaded with ``trust_code=True``.
    """

    name: str
    function: CustomFunction | str
    min: float | None = None
    max: float | None = None
    mostly: float = 1.0
    severity: str = "error"

    def __post_init__(self) -> None:
        _check_mostly(self.mostly)
        _check_severity(self.severity)

    def to_dict(self) -> dict[str, Any]:
        """The suite-file form (a function is written as ``module:function``)."""
        function = self.function
        if callable(function):
            function = f"{function.__module__}:{function.__qualname__}"
        data: dict[str, Any] = {"name": self.name, "function": function}
        for key, default in (("min", None), ("max", None), ("mostly", 1.0), ("severity", "error")):
            if getattr(self, key) != default:
                data[key] = getattr(self, key)
        return data


def import_function(spec: str) -> CustomFunction:
    """Import ``module:function`` (dotted attributes allowed after the colon).

    Raises:
        InvalidInput: malformed, missing, or not callable.
    """
    import importlib

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InvalidInput(f"custom function {spec!r} must be written 'module:function'.")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"custom function {spec!r} cannot be imported: {exc}") from exc
    if not callable(target):
        raise InvalidInput(f"custom function {spec!r} is not callable.")
    return target


@dataclass(frozen=True)
class SuiteSpec:
    """Everything a data suite expects, before it is bound to pandera."""

    name: str
    columns: tuple[Column, ...] = ()
    rows: RowCount | None = None
    freshness: tuple[Freshness, ...] = ()
    unique_together: tuple[UniqueTogether, ...] = ()
    custom: tuple[Custom, ...] = ()
    strict: bool = False
    description: str | None = None
    sample_rows: int = 10

    def to_dict(self) -> dict[str, Any]:
        """The suite-file form."""
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        data["columns"] = {column.name: column.to_dict() for column in self.columns}
        if self.rows is not None:
            data["rows"] = self.rows.to_dict()
        if self.freshness:
            data["freshness"] = [item.to_dict() for item in self.freshness]
        if self.unique_together:
            data["unique_together"] = [list(item.columns) for item in self.unique_together]
        if self.custom:
            data["custom"] = [item.to_dict() for item in self.custom]
        if self.strict:
            data["strict"] = True
        return data


def spec_from_dict(
    data: Mapping[str, Any], default_name: str = "suite", trust_code: bool = False
) -> SuiteSpec:
    """Read the suite-file form.

    Raises:
        InvalidInput: unknown keys, wrong types, or a custom function without ``trust_code``.
    """
    _check_keys(
        "suite",
        data,
        {
            "name",
            "description",
            "columns",
            "rows",
            "freshness",
            "unique_together",
            "custom",
            "strict",
            "sample_rows",
        },
    )
    columns = data.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise InvalidInput("suite 'columns' must map each column name to its expectations.")
    rows = data.get("rows")
    if rows is not None:
        _check_keys("rows", rows, {"min", "max", "severity"})
    freshness = data.get("freshness") or []
    if isinstance(freshness, Mapping):
        freshness = [freshness]
    for item in freshness:
        _check_keys("freshness", item, {"max_age", "column", "severity"})
        if "max_age" not in item:
            raise InvalidInput("each freshness expectation needs max_age (e.g. '7d').")
    custom = []
    for item in data.get("custom") or []:
        _check_keys("custom", item, {"name", "function", "min", "max", "mostly", "severity"})
        if not trust_code:
            raise InvalidInput(
                f"suite {data.get('name', default_name)!r} runs custom code "
                f"({item.get('function')!r}); load it with trust_code=True (CLI: --trust-code) "
                "only if you trust the file."
            )
        function = item.get("function")
        if not isinstance(function, str):
            raise InvalidInput(
                "a custom expectation in a file names its function 'module:function'."
            )
        custom.append(
            Custom(
                **{
                    **item,
                    "name": str(item.get("name") or function),
                    "function": import_function(function),
                }
            )
        )
    unique = data.get("unique_together") or []
    if not all(isinstance(item, list | tuple) for item in unique):
        raise InvalidInput("unique_together must be a list of column lists.")
    return SuiteSpec(
        name=str(data.get("name") or default_name),
        columns=tuple(Column.from_dict(name, spec) for name, spec in columns.items()),
        rows=None if rows is None else RowCount(**rows),
        freshness=tuple(Freshness(**item) for item in freshness),
        unique_together=tuple(UniqueTogether(tuple(item)) for item in unique),
        custom=tuple(custom),
        strict=bool(data.get("strict", False)),
        description=data.get("description"),
        sample_rows=int(data.get("sample_rows", 10)),
    )


def column_names(columns: Sequence[Column]) -> list[str]:
    """The names, refusing a column described twice."""
    names = [column.name for column in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInput(f"column(s) {repeated} are described twice in the suite.")
    return names
