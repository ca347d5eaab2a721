"""The Open Inference Protocol v2 (KServe, Triton, MLServer): ``/v2/models/{name}/infer``.

Tabular inputs come either as one tensor per column, named after the column
(as MLServer's pandas codec sends them), or as one 2-D tensor whose columns
follow the signature's order. A tensor whose shape does not match its data
is refused with a 400 naming it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.models.signature import numeric_rows
from steward.serving.protocols import ParsedInput, array_columns, require_object

if TYPE_CHECKING:
    import numpy as np

    from steward.models.signature import Signature
    from steward.serving.routing import PredictionResult

_NUMPY_TYPES = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
_MAX_DEPTH = 8

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                    "datatype": {"type": "string", "enum": sorted(_NUMPY_TYPES)},
                    "parameters": {"type": "object"},
                    "data": {"type": "array"},
                },
            },
        },
        "outputs": {"type": "array"},
    },
}


def v2_datatype(dtype: Any) -> str:
    """The v2 datatype name of a numpy dtype (BYTES for strings and objects)."""
    import numpy as np

    kind = np.dtype(dtype)
    for name, numpy_name in _NUMPY_TYPES.items():
        if numpy_name != "object" and kind == np.dtype(numpy_name):
            return name
    return "BYTES"


def _flatten(data: Any, out: list[Any], depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidInput("tensor data is nested too deeply.")
    for item in data:
        if isinstance(item, list):
            _flatten(item, out, depth + 1)
        else:
            out.append(item)


def _tensor(spec: Any, index: int) -> tuple[str, list[int], np.ndarray]:
    import numpy as np

    if not isinstance(spec, dict):
        raise InvalidInput(f"inputs[{index}] must be an object with name, shape, datatype, data.")
    name = spec.get("name")
    shape = spec.get("shape")
    datatype = spec.get("datatype")
    data = spec.get("data")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"inputs[{index}] needs a 'name' (a string).")
    label = f"tensor {name[:60]!r}"
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(size, int) and not isinstance(size, bool) for size in shape)
        or any(size < 0 for size in shape)
    ):
        raise InvalidInput(f"{label} needs a 'shape': a list of non-negative integers.")
    if datatype not in _NUMPY_TYPES:
        raise InvalidInput(f"{label} has an unknown datatype; use one of {sorted(_NUMPY_TYPES)}.")
    if not isinstance(data, list):
        raise InvalidInput(f"{label} needs 'data': a (possibly nested) list of values.")
    flat: list[Any] = []
    _flatten(data, flat)
    expected = math.prod(shape)
    if expected != len(flat):
        raise InvalidInput(
            f"{label} has shape {shape} ({expected} values) but its data holds {len(flat)}."
        )
    numpy_type = _NUMPY_TYPES[datatype]
    if numpy_type == "object":
        if not all(isinstance(value, str) for value in flat):
            raise InvalidInput(f"{label} is BYTES; its data must be strings.")
        return name, shape, np.asarray(flat, dtype=object)
    if any(isinstance(value, str | dict) for value in flat) or (
        numpy_type != "bool" and any(value is None for value in flat)
    ):
        raise InvalidInput(f"{label} is {datatype}; its data must be numbers.")
    try:
        values = np.asarray([math.nan if v is None else v for v in flat], dtype=numpy_type)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{label} holds values that are not {datatype}.") from None
    return name, shape, values


def parse(payload: Any, signature: Signature | None, entity_header: str | None) -> ParsedInput:
    """Rows from a v2 inference request."""
    body = require_object(payload, "with 'inputs': a list of tensors")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors.")
    tensors = [_tensor(spec, index) for index, spec in enumerate(inputs)]
    names = signature.input_names if signature is not None else []
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and tensors[0][0] not in names:
        name, shape, values = tensors[0]
        rows, width = shape
        if names and width != len(names):
            raise InvalidInput(
                f"tensor {name[:60]!r} has {width} columns; the model expects {len(names)} "
                f"in the order {names}."
            )
        grid = values.reshape(rows, width)
        frame: Any = grid if grid.dtype.kind in "biuf" else None
        if frame is not None and signature is not None and signature.kind == "columns":
            frame = frame if numeric_rows(signature, frame) is not None else None
        if frame is None or signature is None:
            import pandas as pd

            frame = pd.DataFrame(grid, columns=names or None)
    else:
        import pandas as pd

        columns: dict[str, Any] = {}
        lengths = set()
        for name, shape, values in tensors:
            if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
                raise InvalidInput(
                    f"tensor {name[:60]!r} has shape {shape}; a column tensor has shape [rows] "
                    "or [rows, 1], a single 2-D tensor holds all columns."
                )
            if name in columns:
                raise InvalidInput(f"tensor {name[:60]!r} is sent twice.")
            columns[name] = values
            lengths.add(shape[0])
        if len(lengths) > 1:
            raise InvalidInput(f"the column tensors have different row counts {sorted(lengths)}.")
        frame = pd.DataFrame(columns)
    parameters = body.get("parameters")
    entity_ids = None
    if isinstance(parameters, dict) and isinstance(parameters.get("entity_ids"), list):
        raw = parameters["entity_ids"]
        if len(raw) != len(frame):
            raise InvalidInput("'parameters.entity_ids' must hold one id per row.")
        entity_ids = [None if item is None else str(item)[:200] for item in raw]
    elif entity_header:
        entity_ids = [entity_header] * len(frame)
    return ParsedInput(frame, entity_ids, array_columns(frame, signature))


def format_reply(result: PredictionResult, request_id: Any) -> dict[str, Any]:
    """The v2 inference reply: a ``predict`` tensor, and ``predict_proba`` where available."""
    import numpy as np

    predictions = np.asarray(result.predictions)
    outputs: list[dict[str, Any]] = [
        {
            "name": "predict",
            "datatype": v2_datatype(predictions.dtype),
            "shape": list(predictions.shape),
            "data": predictions.ravel().tolist(),
        }
    ]
    if result.probabilities is not None:
        probabilities = np.asarray(result.probabilities, dtype="float64")
        outputs.append(
            {
                "name": "predict_proba",
                "datatype": "FP64",
                "shape": list(probabilities.shape),
                "data": probabilities.ravel().tolist(),
            }
        )
    reply: dict[str, Any] = {
        "model_name": result.model,
        "model_version": str(result.versions[0]) if result.versions else None,
        "outputs": outputs,
        "parameters": {"request_ids": result.request_ids},
    }
    if isinstance(request_id, str):
        reply["id"] = request_id[:200]
    return reply


def model_metadata(name: str, versions: list[str], signature: Signature | None) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the model's tensors as the v2 protocol describes them."""
    inputs: list[dict[str, Any]] = []
    if signature is not None and signature.kind == "columns":
        for spec in signature.inputs:
            dtype = "BYTES" if spec.dtype == "string" else _safe_v2(spec.dtype)
            inputs.append({"name": spec.name, "datatype": dtype, "shape": [-1]})
    elif signature is not None:
        spec = signature.inputs[0]
        inputs.append(
            {"name": "input", "datatype": _safe_v2(spec.dtype), "shape": list(spec.shape or [-1])}
        )
    return {
        "name": name,
        "versions": versions,
        "platform": "steward",
        "inputs": inputs,
        "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
    }


def _safe_v2(dtype: str) -> str:
    try:
        return v2_datatype(dtype)
    except TypeError:
        return "BYTES"
