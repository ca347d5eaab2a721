"""Reading windows: pandas DataFrames and pyarrow Tables, one column at a time.

Columns are converted one by one so that a wide table never exists twice in
memory; a column's kind (numeric or categorical) is decided here once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

import numpy as np
import pandas as pd

from steward.errors import InvalidInput

ColumnKind = Literal["numeric", "categorical", "unsupported"]
"""How a column is compared: by distances, by shares of categories, or not at all."""


def is_frame(data: Any) -> bool:
    """True for a pandas DataFrame or a pyarrow Table."""
    if isinstance(data, pd.DataFrame):
        return True
    return type(data).__module__.startswith("pyarrow") and hasattr(data, "column_names")


def column_names(data: Any) -> list[str]:
    """Column names of a DataFrame or Table, as strings."""
    if isinstance(data, pd.DataFrame):
        return [str(name) for name in data.columns]
    if is_frame(data):
        return [str(name) for name in data.column_names]
    raise InvalidInput(
        f"expected a pandas DataFrame, a pyarrow Table or a DatasetSummary, got "
        f"{type(data).__name__}."
    )


def row_count(data: Any) -> int:
    """Number of rows of a DataFrame or Table."""
    return len(data) if isinstance(data, pd.DataFrame) else int(data.num_rows)


def column(data: Any, name: str) -> pd.Series:
    """One column as a pandas Series (converted alone for pyarrow Tables)."""
    if isinstance(data, pd.DataFrame):
        if name in data.columns:
            return data[name]
        for key in data.columns:
            if str(key) == name:
                return data[key]
        raise InvalidInput(f"no column {name!r}.")
    return data.column(name).to_pandas()


def iter_columns(data: Any, names: Iterable[str] | None = None) -> Iterator[tuple[str, pd.Series]]:
    """(name, Series) for each column, converted lazily."""
    for name in names if names is not None else column_names(data):
        yield name, column(data, name)


def column_kind(series: pd.Series, categorical: bool = False) -> ColumnKind:
    """``numeric``, ``categorical`` or ``unsupported`` for a Series."""
    dtype = series.dtype
    if categorical or pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "unsupported"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "categorical"
    return "unsupported"


def numeric_values(series: pd.Series) -> np.ndarray:
    """A float64 array with NaN for missing values (no copy for float64 columns)."""
    if series.dtype == np.float64:
        return series.to_numpy()
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def dtype_name(series: pd.Series) -> str:
    """A short, stable name of a Series' type for schema comparison."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "string"
    return str(dtype)
