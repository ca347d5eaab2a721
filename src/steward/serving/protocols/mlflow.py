"""The MLflow scoring protocol: ``POST /invocations``.

Accepts exactly one of ``dataframe_split`` (``{"columns", "data"}``),
``dataframe_records`` (a list of row objects), ``instances`` and ``inputs``
(rows as objects, or column: values), plus ``params`` which is ignored.
Replies ``{"predictions": [...]}``, as ``mlflow models serve`` does, so
MLflow clients and scripts work unchanged; the request ids that ``/feedback``
takes come in the ``X-Request-Id`` header, and also in the body as
``"request_ids"`` when asked with ``?request_ids=true``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.serving.protocols import (
    ParsedInput,
    array_columns,
    columns_frame,
    json_values,
    numeric_array,
    records_frame,
    require_object,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from steward.models.signature import Signature
    from steward.serving.routing import PredictionResult

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
            },
        },
        "dataframe_records": {"type": "array", "items": {"type": "object"}},
        "instances": {"type": "array"},
        "inputs": {},
        "params": {"type": "object"},
    },
}


def _split_frame(value: Any, signature: Signature | None) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise InvalidInput("'dataframe_split' must be an object with 'columns' and 'data'.")
    data = value["data"]
    columns = value.get("columns")
    if columns is None and signature is not None:
        columns = signature.input_names
    if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
        raise InvalidInput("'dataframe_split.columns' must be a list of column names.")
    if len(set(columns)) != len(columns):
        twice = sorted({name for name in columns if columns.count(name) > 1})
        raise InvalidInput(
            f"'dataframe_split.columns' names {[name[:60] for name in twice[:5]]} more than "
            "once; name each column once."
        )
    width = len(columns)
    if not all(isinstance(row, list) and len(row) == width for row in data):
        raise InvalidInput(
            f"each row of 'dataframe_split.data' must be a list of {width} values, one per column."
        )
    return pd.DataFrame(data, columns=columns) if data else pd.DataFrame(columns=columns)


def _rows(value: Any, field: str, signature: Signature | None) -> pd.DataFrame | np.ndarray:
    if isinstance(value, dict):
        return columns_frame(value, field)
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        names = signature.input_names if signature is not None else []
        if not names:
            # A tensor signature: rows of values, checked against its width.
            if len({len(row) for row in value}) != 1:
                raise InvalidInput(f"the rows of '{field}' have different lengths.")
        elif not all(len(row) == len(names) for row in value):
            raise InvalidInput(
                f"each row of '{field}' must hold {len(names)} values in the order {names}."
            )
        array = numeric_array(value, signature)
        if array is not None:
            return array  # columns in the signature's order, checked against it later
        import pandas as pd

        return pd.DataFrame(value, columns=names or None)
    return records_frame(value, field)


def parse(payload: Any, signature: Signature | None, entity_header: str | None) -> ParsedInput:
    """Rows from an ``/invocations`` body."""
    body = require_object(payload, f"with one of {list(FORMATS)}")
    given = [name for name in FORMATS if name in body]
    if len(given) != 1:
        raise InvalidInput(
            f"send exactly one of {list(FORMATS)} (got {given or 'none'}); "
            "see the MLflow scoring protocol."
        )
    unknown = sorted(set(body) - {*FORMATS, "params"})
    if unknown:
        raise InvalidInput(f"unknown field(s) {unknown[:5]}; expected one of {list(FORMATS)}.")
    field = given[0]
    if field == "dataframe_split":
        frame = _split_frame(body[field], signature)
    elif field == "dataframe_records":
        frame = records_frame(body[field], field)
    else:
        frame = _rows(body[field], field, signature)
    entity_ids: list[str | None] | None = [entity_header] * len(frame) if entity_header else None
    return ParsedInput(frame, entity_ids, array_columns(frame, signature))


def format_reply(result: PredictionResult, *, request_ids: bool = False) -> dict[str, Any]:
    """The ``/invocations`` reply: ``{"predictions": [...]}`` (and ``request_ids`` if asked)."""
    reply: dict[str, Any] = {"predictions": json_values(result.predictions)}
    if request_ids:
        reply["request_ids"] = result.request_ids
    return reply
