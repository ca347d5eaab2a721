"""Wire protocols: each turns its JSON payload into rows and formats the reply.

``native`` (``/predict``), ``mlflow`` (``/invocations``) and ``v2`` (the Open
Inference Protocol). Reading the body is shared: the size limit is enforced
from ``Content-Length`` and again while the bytes stream in, so an oversized
body is refused before it is buffered; a body that does not arrive in time
gets 408; a gzip or deflate body (``Content-Encoding``) is inflated within
the same limit.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.serving.errors import PayloadTooLarge, RequestTimeout, UnsupportedMediaType

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from starlette.requests import Request

    from steward.models.signature import Signature

JSON_TYPES = ("application/json",)


@dataclass
class ParsedInput:
    """Rows to predict on, and the entity id of each row where the caller sent one.

    ``rows`` is a DataFrame, or — for rows of numbers sent without names (MLflow
    ``instances``, a v2 2-D tensor) — a 2-D array whose columns follow the
    signature's order, so that numeric models are served without pandas.
    """

    rows: pd.DataFrame | np.ndarray
    entity_ids: list[str | None] | None = None
    columns: list[str] | None = None
    """The names of an array's columns (the signature's it was read with; None: a tensor)."""


def numeric_array(rows: list[list[Any]], signature: Signature | None) -> np.ndarray | None:
    """Rows of plain numbers as one 2-D array the model takes as it is, else None.

    None also when there is no signature (the rows go to the model as a
    DataFrame, as they always did) or when a column could not take the array's
    common type safely (``[1.5, 2]`` for a float and an integer column): the
    caller then builds a DataFrame, which types each column by its own values.
    """
    import numpy as np

    from steward.models.signature import numeric_rows

    if signature is None or not rows:
        return None
    width = len(rows[0])
    for row in rows:
        if len(row) != width:
            return None
        for value in row:
            if type(value) is not float and type(value) is not int:
                return None
    array = np.asarray(rows)
    if signature.kind == "tensor" or numeric_rows(signature, array) is not None:
        return array
    return None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than the server's limit of {limit} bytes; "
        "send fewer rows per request."
    )


async def read_body(request: Request, limit: int, timeout_s: float = 30.0) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes.

    Raises:
        PayloadTooLarge: the declared, actual or inflated size is over ``limit``.
        RequestTimeout: the body did not arrive within ``timeout_s``.
        UnsupportedMediaType: a ``Content-Encoding`` other than gzip or deflate.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise InvalidInput("the Content-Length header is not a number.") from None
        if declared_size > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(
            f"the request body did not arrive within {timeout_s:g} s; send it at once."
        ) from None
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    return body if encoding in ("", "identity") else _inflate(body, encoding, limit)


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """A gzip or deflate (zlib) body, inflated to at most ``limit`` bytes."""
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding[:30]!r} is not read here; send gzip, deflate or none."
        )
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise InvalidInput(f"the request body is not valid {encoding} data.") from None
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise _too_large(limit)
    return inflated


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters ('' when not sent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_json_type(request: Request) -> None:
    """Refuse a body that is not declared as JSON (415)."""
    media = media_type(request)
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaType(
            f"this route reads JSON; send the header 'Content-Type: application/json' "
            f"(got {media[:60] or 'none'!r})."
        )


def parse_json(body: bytes) -> Any:
    """Decode a JSON body; NaN and Infinity tokens are accepted so validation can name them.

    Raises:
        InvalidInput: the body is empty or not JSON.
    """
    import orjson

    if not body.strip():
        raise InvalidInput("the request body is empty; send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        # Python's json reads the NaN/Infinity tokens some clients write.
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        position = getattr(exc, "pos", None)
        where = f" at byte {position}" if position is not None else ""
        raise InvalidInput(f"the request body is not valid JSON{where}.") from None


async def read_json(request: Request, limit: int, timeout_s: float = 30.0) -> Any:
    """Check the content type, read the body within ``limit`` and decode it."""
    check_json_type(request)
    return parse_json(await read_body(request, limit, timeout_s))


def json_values(values: Any) -> Any:
    """An output array as orjson writes it fastest, with the values ``tolist`` would give.

    Arrays of 64-bit floats, integers and booleans go as they are; other types
    (float32, whose values orjson would round differently, strings) as lists.
    """
    import numpy as np

    if values is None:
        return None
    array = np.asarray(values)
    if array.dtype in (np.float64, np.int64, np.int32, np.bool_):
        return np.ascontiguousarray(array)
    return array.tolist()


def require_object(payload: Any, what: str) -> dict[str, Any]:
    """``payload`` as a dict, or InvalidInput saying what was expected."""
    if not isinstance(payload, dict):
        raise InvalidInput(f"the request body must be a JSON object {what}.")
    return payload


def array_columns(rows: Any, signature: Signature | None) -> list[str] | None:
    """The column names of array rows read with ``signature`` (None for frames and tensors)."""
    if signature is None or signature.kind != "columns" or hasattr(rows, "columns"):
        return None
    return signature.input_names


def records_frame(records: Any, field: str) -> pd.DataFrame:
    """A DataFrame from a list of JSON objects (one per row)."""
    import pandas as pd

    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        raise InvalidInput(f"'{field}' must be a list of objects, one per row.")
    if not all(isinstance(record, dict) for record in records):
        raise InvalidInput(f"each row of '{field}' must be a JSON object of column: value.")
    if not records:
        return pd.DataFrame()
    if len(records) == 1:
        return pd.DataFrame({key: [value] for key, value in records[0].items()})
    return pd.DataFrame.from_records(records)


def columns_frame(columns: Any, field: str) -> pd.DataFrame:
    """A DataFrame from a JSON object of column name: list of values."""
    import pandas as pd

    if not isinstance(columns, dict):
        raise InvalidInput(f"'{field}' must be an object of column name: list of values.")
    lengths = set()
    data: dict[str, list[Any]] = {}
    for name, values in columns.items():
        values = values if isinstance(values, list) else [values]
        lengths.add(len(values))
        data[str(name)] = values
    if len(lengths) > 1:
        raise InvalidInput(f"the columns of '{field}' have different lengths {sorted(lengths)}.")
    return pd.DataFrame(data)


def entity_ids_from(value: Any, rows: int, header: str | None) -> list[str | None] | None:
    """Per-row entity ids from the body (a list) or one id for all rows from a header."""
    if value is None:
        return [header] * rows if header else None
    if not isinstance(value, list) or len(value) != rows:
        raise InvalidInput(f"'entity_ids' must be a list with one id per row ({rows}).")
    return [None if item is None else str(item)[:200] for item in value]
