"""Model signatures: what a model takes and returns, inferred from an example and enforced.

A signature is either *columns* (named, typed columns, as from a DataFrame or
records) or a *tensor* (one numeric array of a fixed width, as from numpy).
Enforcement accepts a DataFrame, a dict, a list of records or a numpy array,
refuses missing, extra and wrongly typed columns with a message naming them,
and applies only safe casts (int to float, bool to int, narrower to wider).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class ColumnSpec:
    """One input or output column: name, dtype (numpy name or ``string``), whether required."""

    name: str | None
    dtype: str
    required: bool = True
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        data: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "required": self.required}
        if self.shape is not None:
            data["shape"] = list(self.shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        """Inverse of ``to_dict``."""
        shape = data.get("shape")
        return cls(
            data.get("name"),
            data["dtype"],
            data.get("required", True),
            tuple(shape) if shape is not None else None,
        )


@dataclass(frozen=True)
class Signature:
    """A model's inputs and outputs; ``kind`` is ``columns`` or ``tensor``."""

    kind: str
    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = field(default_factory=tuple)

    @property
    def input_names(self) -> list[str]:
        """The names of the input columns (empty for a tensor)."""
        return [spec.name for spec in self.inputs if spec.name is not None]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "kind": self.kind,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        """Inverse of ``to_dict``."""
        return cls(
            data["kind"],
            tuple(ColumnSpec.from_dict(item) for item in data["inputs"]),
            tuple(ColumnSpec.from_dict(item) for item in data.get("outputs", [])),
        )

    def describe(self) -> str:
        """The inputs as text, for error messages."""
        if self.kind == "tensor":
            spec = self.inputs[0]
            return f"an array of {spec.dtype} with shape {list(spec.shape or ())}"
        return ", ".join(
            f"{spec.name}: {spec.dtype}{'' if spec.required else ' (optional)'}"
            for spec in self.inputs
        )


def _dtype_name(dtype: Any) -> str:
    import numpy as np

    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return str(dtype)  # without importing pandas: array-only servers never load it
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return "string"
    if pd.api.types.is_string_dtype(dtype) or dtype == np.dtype(object):
        return "string"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime64[ns]"
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return str(np.dtype(dtype.numpy_dtype)) if hasattr(dtype, "numpy_dtype") else "string"
    return str(np.dtype(dtype))


def _as_frame(data: Any) -> pd.DataFrame | None:
    import numpy as np

    if isinstance(data, np.ndarray):
        return None  # decided without importing pandas: array-only servers never load it
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame().T if data.name is None else data.to_frame()
    if isinstance(data, dict):
        if all(
            not isinstance(value, list | tuple) and getattr(value, "ndim", 0) == 0
            for value in data.values()
        ):
            return pd.DataFrame([data])
        return pd.DataFrame(data)
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        return pd.DataFrame.from_records(data)
    return None


def _as_array(data: Any) -> np.ndarray:
    import numpy as np

    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    return array


def _output_specs(output: Any) -> tuple[ColumnSpec, ...]:
    import numpy as np
    import pandas as pd

    if output is None:
        return ()
    if isinstance(output, pd.DataFrame):
        return tuple(
            ColumnSpec(str(name), _dtype_name(dtype)) for name, dtype in output.dtypes.items()
        )
    array = np.asarray(output)
    shape = (-1, *array.shape[1:])
    return (ColumnSpec(None, _dtype_name(array.dtype), True, shape),)


def infer_signature(input_example: Any, output: Any = None) -> Signature:
    """Infer a signature from an input example and, optionally, the model's output on it.

    Columns with a missing value in the example are marked optional.
    """
    frame = _as_frame(input_example)
    if frame is not None:
        specs = tuple(
            ColumnSpec(
                str(name), _dtype_name(frame[name].dtype), not bool(frame[name].isna().any())
            )
            for name in frame.columns
        )
        return Signature("columns", specs, _output_specs(output))
    array = _as_array(input_example)
    if array.ndim != 2:
        raise InvalidInput(
            f"cannot infer a signature from an array of shape {array.shape}; pass a 2-D array, "
            "a DataFrame, a dict or a list of records."
        )
    spec = ColumnSpec(None, _dtype_name(array.dtype), True, (-1, int(array.shape[1])))
    return Signature("tensor", (spec,), _output_specs(output))


def _safe_cast(actual: Any, expected: str) -> bool:
    import numpy as np

    actual_name = _dtype_name(actual)
    if actual_name == expected:
        return True
    if expected == "string" or actual_name == "string":
        return False
    if expected.startswith("datetime") or actual_name.startswith("datetime"):
        return False
    return bool(np.can_cast(np.dtype(actual_name), np.dtype(expected), casting="safe"))


def enforce(signature: Signature, data: Any, *, arrays: bool = False) -> Any:
    """Check ``data`` against ``signature`` and return it shaped for the model.

    Args:
        signature: what the model expects.
        data: a DataFrame, a dict, records, or an array.
        arrays: the model takes a plain array whose columns follow the signature's
            order (an ONNX graph, an estimator fitted on arrays). A numeric array for a
            signature of numeric columns is then checked and cast as it is, without
            building a DataFrame.

    Returns:
        A DataFrame with the signature's columns in order (columns signature),
        or a 2-D numpy array (tensor signature, or ``arrays`` as above).

    Raises:
        InvalidInput: a required column is missing, a column is unexpected, or
            a value's type cannot be safely cast to the expected one.
    """
    if signature.kind == "tensor":
        return _enforce_tensor(signature, data)
    if arrays:
        rows = numeric_rows(signature, data)
        if rows is not None:
            return rows
    return _enforce_columns(signature, data)


def numeric_rows(signature: Signature, data: Any) -> np.ndarray | None:
    """``data`` as one array in the signature's column order, where that is exact.

    That is: ``data`` is a 2-D numeric array as wide as a columns signature whose
    columns are all numbers, each able to take the array's values safely. The
    array is cast to the type the columns share (as ``DataFrame.to_numpy`` would).
    None otherwise, for ``enforce``'s general path and its messages.
    """
    import numpy as np

    if signature.kind != "columns" or not isinstance(data, np.ndarray):
        return None
    if data.ndim != 2 or data.shape[1] != len(signature.inputs):
        return None
    common = _numeric_target(signature, data.dtype)
    if common is None:
        return None
    return data if data.dtype == common else data.astype(common)


@lru_cache(maxsize=64)
def _numeric_target(signature: Signature, dtype: np.dtype) -> np.dtype | None:
    """The type an array of ``dtype`` becomes for these columns, or None if one cannot take it.

    Cached: a server asks this for every request with the same few signatures
    and types, and the answer costs ~100 µs to work out for 20 columns.
    """
    import numpy as np

    if dtype.kind not in "biuf":
        return None
    dtypes = [spec.dtype for spec in signature.inputs]
    if any(d == "string" or d.startswith("datetime") for d in dtypes):
        return None
    if not all(_safe_cast(dtype, column) for column in dtypes):
        return None
    return np.result_type(*(np.dtype(column) for column in dtypes))


def _enforce_tensor(signature: Signature, data: Any) -> np.ndarray:
    import numpy as np

    spec = signature.inputs[0]
    frame = _as_frame(data)
    array = frame.to_numpy() if frame is not None else _as_array(data)
    width = (spec.shape or (-1, -1))[-1]
    if array.ndim != 2 or (width != -1 and array.shape[1] != width):
        raise InvalidInput(
            f"the model expects {signature.describe()}, got shape {list(array.shape)}."
        )
    if array.dtype.name != spec.dtype:
        if not _safe_cast(array.dtype, spec.dtype):
            raise InvalidInput(
                f"the model expects values of type {spec.dtype}; {array.dtype} cannot be "
                "converted safely."
            )
        array = array.astype(np.dtype(spec.dtype))
    return array


def _enforce_columns(signature: Signature, data: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    frame = _as_frame(data)
    names = signature.input_names
    if frame is None:
        array = _as_array(data)
        if array.ndim != 2 or array.shape[1] != len(names):
            raise InvalidInput(
                f"the model expects columns {names}; got an array of shape {list(array.shape)}. "
                "Pass a DataFrame, a dict or records with these columns."
            )
        frame = pd.DataFrame(array, columns=names)
    given = [str(column) for column in frame.columns]
    extra = [column for column in given if column not in names]
    if extra:
        raise InvalidInput(
            f"unexpected column(s) {extra}; the model expects: {signature.describe()}."
        )
    missing = [spec.name for spec in signature.inputs if spec.required and spec.name not in given]
    if missing:
        raise InvalidInput(
            f"missing required column(s) {missing}; the model expects: {signature.describe()}."
        )
    columns: dict[str, Any] = {}
    for spec in signature.inputs:
        assert spec.name is not None
        if spec.name not in given:
            # A missing optional column is sent as missing values (NaN for numbers).
            fill_dtype = object if spec.dtype == "string" else "float64"
            columns[spec.name] = pd.Series(None, index=frame.index, dtype=fill_dtype)
            continue
        column = frame[spec.name]
        if _dtype_name(column.dtype) == spec.dtype:
            columns[spec.name] = column
            continue
        if not _safe_cast(column.dtype, spec.dtype):
            if not spec.required and column.isna().all():
                columns[spec.name] = column
                continue
            raise InvalidInput(
                f"column {spec.name!r} has type {_dtype_name(column.dtype)}, but the model "
                f"expects {spec.dtype} and the values cannot be converted safely."
            )
        columns[spec.name] = column.astype(np.dtype(spec.dtype))
    if not any(spec.name not in given for spec in signature.inputs) and all(
        columns[name] is frame[name] for name in names
    ):
        return frame[names] if given != names else frame
    return pd.DataFrame(columns, index=frame.index)


def example_to_json(input_example: Any) -> dict[str, Any]:
    """A few rows of an input example as JSON-friendly data."""
    frame = _as_frame(input_example)
    if frame is not None:
        head = frame.head(INPUT_EXAMPLE_ROWS)
        return {"kind": "columns", "data": json.loads(head.to_json(orient="split", index=False))}
    array = _as_array(input_example)[:INPUT_EXAMPLE_ROWS]
    return {"kind": "tensor", "dtype": str(array.dtype), "data": array.tolist()}


def example_rows(data: dict[str, Any], signature: Signature) -> np.ndarray | None:
    """A stored columns example as ``numeric_rows`` gives it (None where it cannot be)."""
    import numpy as np

    if data["kind"] != "columns":
        return None
    payload = data["data"]
    columns = payload.get("columns")
    names = signature.input_names
    if not isinstance(columns, list) or set(columns) != set(names):
        return None
    order = [columns.index(name) for name in names]
    values = [[row[i] for i in order] for row in payload["data"]]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for r in values for v in r):
        return None
    return numeric_rows(signature, np.asarray(values))


def example_from_json(data: dict[str, Any]) -> Any:
    """Inverse of ``example_to_json``: a DataFrame or a numpy array."""
    import numpy as np

    if data["kind"] == "columns":
        import pandas as pd

        payload = data["data"]
        return pd.DataFrame(payload["data"], columns=payload["columns"])
    return np.asarray(data["data"], dtype=data.get("dtype"))
