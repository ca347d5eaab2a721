"""The Open Inference Protocol v2 (KServe, Triton, MLServer): ``/v2/models/{name}/infer``.

Tabular inputs come either as one tensor per column, named after the column
(as MLServer's pandas codec sends them), or as one 2-D tensor whose columns
follow the signature's order. A tensor whose shape does not match its data
is refused with a 400 naming it.

The binary tensor data extension is read and written as Triton and KServe
clients use it: a request whose ``Inference-Header-Content-Length`` header
says how long its JSON part is carries, after it, the raw little-endian data
of each input with ``parameters.binary_data_size`` (BYTES elements each
prefixed by their 4-byte length); outputs asked for with
``parameters.binary_data`` (or all of them with ``binary_data_output``) come
back the same way. Numeric rows then go from the wire to the model as one
array, never a list of Python numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.models.signature import numeric_rows
from steward.serving.errors import UnsupportedMediaType
from steward.serving.protocols import (
    JSON_TYPES,
    ParsedInput,
    array_columns,
    json_values,
    media_type,
    parse_json,
    read_body,
    require_object,
)

if TYPE_CHECKING:
    import numpy as np
    from starlette.requests import Request
    from starlette.responses import Response

    from steward.models.signature import Signature
    from steward.serving.routing import PredictionResult

BINARY_TYPE = "application/octet-stream"
HEADER_LENGTH = "inference-header-content-length"

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
                "required": ["name", "shape", "datatype"],
                "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                    "datatype": {"type": "string", "enum": sorted(_NUMPY_TYPES)},
                    "parameters": {
                        "type": "object",
                        "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
                    },
                    "data": {"type": "array"},
                },
            },
        },
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "enum": ["predict", "predict_proba"]},
                    "parameters": {
                        "type": "object",
                        "properties": {"binary_data": {"type": "boolean"}},
                    },
                },
            },
        },
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


def _flatten(data: list[Any], depth: int = 0) -> list[Any]:
    if depth > _MAX_DEPTH:
        raise InvalidInput("tensor data is nested too deeply.")
    if list not in set(map(type, data)):
        return data
    flat: list[Any] = []
    for item in data:
        if type(item) is list:
            flat += _flatten(item, depth + 1)
        else:
            flat.append(item)
    return flat


class _BinaryData:
    """The binary part of a request, handed out to the inputs that claim it, in order."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: Any, label: str) -> memoryview:
        if type(size) is not int or size < 0:
            raise InvalidInput(f"{label}: 'binary_data_size' must be a non-negative integer.")
        left = len(self.data) - self.offset
        if size > left:
            raise InvalidInput(f"{label} claims {size} bytes of binary data; {left} remain.")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def finish(self) -> None:
        left = len(self.data) - self.offset
        if left:
            raise InvalidInput(f"the request holds {left} bytes of binary data no input claims.")


def _json_values(data: Any, datatype: str, count: int, label: str) -> np.ndarray:
    import numpy as np

    if not isinstance(data, list):
        raise InvalidInput(f"{label} needs 'data': a (possibly nested) list of values.")
    kinds = set(map(type, data))  # C speed; data is mostly flat already
    flat = data
    if list in kinds:
        flat = _flatten(data)
        kinds = set(map(type, flat))
    if len(flat) != count:
        raise InvalidInput(
            f"{label} has {count} values by its shape but its data holds {len(flat)}."
        )
    numpy_type = _NUMPY_TYPES[datatype]
    if datatype == "BYTES":
        if not kinds <= {str}:
            raise InvalidInput(f"{label} is BYTES; its data must be strings.")
        return np.asarray(flat, dtype=object).reshape(-1)
    if datatype == "BOOL":
        if not kinds <= {bool}:
            raise InvalidInput(f"{label} is BOOL; its data must be true or false.")
        return np.asarray(flat, dtype=bool)
    if bool in kinds:
        raise InvalidInput(f"{label} is {datatype}; its data must be numbers, not true/false.")
    if not kinds <= {int, float}:
        raise InvalidInput(f"{label} is {datatype}; its data must be numbers.")
    try:
        return np.asarray(flat, dtype=numpy_type)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{label} holds values that are not {datatype}.") from None


def _binary_values(chunk: memoryview, datatype: str, count: int, label: str) -> np.ndarray:
    import numpy as np

    if datatype == "BYTES":
        return _binary_strings(chunk, count, label)
    if datatype == "BOOL":
        raw = np.frombuffer(chunk, dtype=np.uint8)
        if len(raw) != count:
            raise InvalidInput(f"{label} is BOOL with {count} values; send {count} bytes.")
        return raw != 0
    dtype = np.dtype(_NUMPY_TYPES[datatype]).newbyteorder("<")
    if len(chunk) != count * dtype.itemsize:
        raise InvalidInput(
            f"{label} is {datatype} with {count} values; its binary data must be "
            f"{count * dtype.itemsize} bytes, not {len(chunk)}."
        )
    return np.frombuffer(chunk, dtype=dtype).astype(dtype.newbyteorder("="), copy=False)


def _binary_strings(chunk: memoryview, count: int, label: str) -> np.ndarray:
    """BYTES elements: each a 4-byte little-endian length, then that many bytes of UTF-8."""
    import numpy as np

    values: list[str] = []
    position, end = 0, len(chunk)
    while position < end:
        if position + 4 > end or len(values) >= count:
            raise InvalidInput(f"{label}: its BYTES data does not hold {count} elements.")
        size = int.from_bytes(chunk[position : position + 4], "little")
        position += 4
        if position + size > end:
            raise InvalidInput(f"{label}: a BYTES element runs past the end of its data.")
        try:
            values.append(str(chunk[position : position + size], "utf-8"))
        except UnicodeDecodeError:
            raise InvalidInput(f"{label}: a BYTES element is not UTF-8 text.") from None
        position += size
    if len(values) != count:
        raise InvalidInput(f"{label}: its BYTES data holds {len(values)} elements, not {count}.")
    array = np.empty(count, dtype=object)
    array[:] = values
    return array


def _tensor(spec: Any, index: int, binary: _BinaryData) -> tuple[str, list[int], np.ndarray]:
    if not isinstance(spec, dict):
        raise InvalidInput(f"inputs[{index}] must be an object with name, shape, datatype, data.")
    name = spec.get("name")
    shape = spec.get("shape")
    datatype = spec.get("datatype")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"inputs[{index}] needs a 'name' (a string).")
    label = f"tensor {name[:60]!r}"
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(size) is int for size in shape)
        or any(size < 0 for size in shape)
    ):
        raise InvalidInput(f"{label} needs a 'shape': a list of non-negative integers.")
    if datatype not in _NUMPY_TYPES:
        raise InvalidInput(f"{label} has an unknown datatype; use one of {sorted(_NUMPY_TYPES)}.")
    parameters = spec.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput(f"{label}: 'parameters' must be an object.")
    count = math.prod(shape)
    if "binary_data_size" in parameters:
        if "data" in spec:
            raise InvalidInput(f"{label} has both 'data' and binary data; send one.")
        chunk = binary.take(parameters["binary_data_size"], label)
        return name, shape, _binary_values(chunk, datatype, count, label)
    return name, shape, _json_values(spec.get("data"), datatype, count, label)


def parse(
    payload: Any,
    signature: Signature | None,
    entity_header: str | None,
    binary: memoryview | None = None,
) -> ParsedInput:
    """Rows from a v2 inference request (its JSON part, and the binary data after it)."""
    body = require_object(payload, "with 'inputs': a list of tensors")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors.")
    data = _BinaryData(binary if binary is not None else memoryview(b""))
    tensors = [_tensor(spec, index, data) for index, spec in enumerate(inputs)]
    data.finish()
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


OUTPUTS = ("predict", "predict_proba")


@dataclass(frozen=True)
class Outputs:
    """Which outputs a request asked for, and which of them as binary data."""

    names: tuple[str, ...]
    binary: frozenset[str]

    @property
    def probabilities(self) -> bool:
        """Whether class probabilities are wanted."""
        return "predict_proba" in self.names


def requested_outputs(payload: Any) -> Outputs:
    """The outputs of a v2 request (all of them, as JSON, unless it says otherwise).

    Raises:
        InvalidInput: an unknown output, or malformed ``outputs`` / ``parameters``.
    """
    body = payload if isinstance(payload, dict) else {}
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput("'parameters' must be an object.")
    everything = parameters.get("binary_data_output", False)
    if type(everything) is not bool:
        raise InvalidInput("'parameters.binary_data_output' must be true or false.")
    asked = body.get("outputs")
    if asked is None:
        return Outputs(OUTPUTS, frozenset(OUTPUTS) if everything else frozenset())
    if not isinstance(asked, list):
        raise InvalidInput("'outputs' must be a list of {name, parameters}.")
    names: list[str] = []
    binary: set[str] = set()
    for index, output in enumerate(asked):
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUTS:
            raise InvalidInput(f"outputs[{index}] must name one of {list(OUTPUTS)}.")
        options = output.get("parameters") or {}
        if not isinstance(options, dict):
            raise InvalidInput(f"outputs[{index}].parameters must be an object.")
        wants_binary = options.get("binary_data", everything)
        if type(wants_binary) is not bool:
            raise InvalidInput(f"outputs[{index}].parameters.binary_data must be true or false.")
        names.append(name)
        if wants_binary:
            binary.add(name)
    return Outputs(tuple(dict.fromkeys(names)), frozenset(binary))


def _output(name: str, values: Any, binary: bool) -> tuple[dict[str, Any], bytes | None]:
    import numpy as np

    array = np.asarray(values)
    datatype = v2_datatype(array.dtype)
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
    if not binary:
        entry["data"] = json_values(array.ravel())
        return entry, None
    if datatype == "BYTES":
        raw = b"".join(
            len(item).to_bytes(4, "little") + item
            for item in (str(value).encode() for value in array.ravel().tolist())
        )
    else:
        raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    entry["parameters"] = {"binary_data_size": len(raw)}
    return entry, raw


def format_reply(
    result: PredictionResult, request_id: Any, outputs: Outputs
) -> tuple[dict[str, Any], list[bytes]]:
    """The v2 inference reply: its JSON part, and the binary data of binary outputs.

    ``predict`` holds the predictions, ``predict_proba`` the class probabilities
    where the model has them.
    """
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    values = {"predict": result.predictions, "predict_proba": result.probabilities}
    for name in outputs.names:
        if values[name] is None:
            continue
        entry, raw = _output(name, values[name], name in outputs.binary)
        entries.append(entry)
        if raw is not None:
            chunks.append(raw)
    reply: dict[str, Any] = {
        "model_name": result.model,
        "model_version": str(result.versions[0]) if result.versions else None,
        "outputs": entries,
        "parameters": {"request_ids": result.request_ids},
    }
    if isinstance(request_id, str):
        reply["id"] = request_id[:200]
    return reply, chunks


async def read_request(
    request: Request, limit: int, timeout_s: float
) -> tuple[Any, memoryview | None]:
    """A v2 request body: its JSON part and, with ``Inference-Header-Content-Length``,
    the binary tensor data after it.

    The JSON part may come as ``application/json``, ``application/octet-stream``
    or with no content type (as tritonclient sends it).

    Raises:
        UnsupportedMediaType: another content type.
        InvalidInput: a header length that does not fit the body.
    """
    media = media_type(request)
    if media not in ("", BINARY_TYPE, *JSON_TYPES) and not media.endswith("+json"):
        raise UnsupportedMediaType(
            "v2 inference reads JSON, or JSON followed by binary tensor data "
            f"({BINARY_TYPE} with Inference-Header-Content-Length); got {media[:60]!r}."
        )
    body = await read_body(request, limit, timeout_s)
    declared = request.headers.get(HEADER_LENGTH)
    if declared is None:
        return parse_json(body), None
    try:
        length = int(declared)
    except ValueError:
        raise InvalidInput("the Inference-Header-Content-Length header is not a number.") from None
    if not 0 < length <= len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length is {length} but the body holds {len(body)} bytes."
        )
    view = memoryview(body)
    return parse_json(bytes(view[:length])), view[length:]


def response(reply: dict[str, Any], chunks: list[bytes], headers: dict[str, str]) -> Response:
    """The HTTP reply: JSON alone, or JSON followed by the binary outputs."""
    import orjson
    from starlette.responses import Response

    header = orjson.dumps(reply, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return Response(header, media_type="application/json", headers=headers)
    headers = {**headers, HEADER_LENGTH: str(len(header))}
    return Response(b"".join([header, *chunks]), media_type=BINARY_TYPE, headers=headers)


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
