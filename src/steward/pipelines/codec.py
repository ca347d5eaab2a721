"""How step outputs become blobs and come back: safe formats only.

pandas, polars and Arrow tables are stored as Parquet, or, up to
``SMALL_TABLE_BYTES``, in the Arrow IPC file format (Feather v2; the first
bytes say which), NumPy arrays as ``.npy`` without pickle, models through
their flavor (``steward.models``: skops, ONNX, native XGBoost/LightGBM
files) as artifacts of the step's run, bytes as they are, and JSON values
as JSON. Anything else is refused with an error naming the step and the
type: nothing is ever pickled.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.store.pipeline_records import INLINE_LIMIT

if TYPE_CHECKING:
    from steward.blobs import BlobStore, BlobWriter
    from steward.store.pipeline_records import StepOutput
    from steward.workspace import Workspace

MODEL_KIND = "model"
_PANDAS_SERIES_COLUMN = "__steward_series__"

SMALL_TABLE_BYTES = 1 << 20
"""Tables of up to this many bytes in memory are stored in the Arrow IPC file format.

For them Parquet's compression saves little, while loading its writer
(``pyarrow.parquet`` and the ``pyarrow.fs`` it imports) costs a process about
8 ms, more than a small step itself, and each write costs twice an Arrow one.
Larger tables are stored as Parquet."""

_ARROW_FILE_MAGIC = b"ARROW1"
"""How an Arrow IPC file starts (a Parquet file starts ``PAR1``)."""


def type_name(value: Any) -> str:
    """``module.Class`` of a value, as messages and records name it."""
    kind = type(value)
    module = kind.__module__.split(".")[0]
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


@dataclass(frozen=True)
class Encoded:
    """An output in stored form: its codec and bytes (None for a model, stored apart).

    A small table's Arrow IPC file is a view of the memory it was written into (of its
    exact size): copying it into a ``bytes`` (fresh memory, a page fault per 4 KiB) cost
    more than writing it."""

    kind: str
    data: bytes | memoryview | None
    type: str


def _dictionary_columns(schema: Any) -> list[str] | bool:
    """The columns worth Parquet's dictionary encoding: all but floating-point ones.

    Floats are nearly always distinct, so their dictionaries grow to every value
    before the writer gives up on them: ten times the cost of the plain write,
    for a larger file. Nested columns are named by their leaves in Parquet; a
    schema with any keeps the default (every column).
    """
    import pyarrow.types as types

    if any(types.is_nested(field.type) for field in schema):
        return True
    return [field.name for field in schema if not types.is_floating(field.type)]


def _parquet(table: Any) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(
        table, buffer, compression="lz4", use_dictionary=_dictionary_columns(table.schema)
    )
    return buffer.getvalue()


def _arrow_file(table: Any) -> memoryview:
    """The Arrow IPC file of ``table``, written once to learn its size, then into memory
    of exactly that size: a growing Arrow output stream took 1-6 ms of page faults in a
    fresh process for the 0.8 MB frame of the pipelines benchmark (0.5 ms this way)."""
    import pyarrow as pa

    def write(sink: Any) -> None:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    measure = pa.MockOutputStream()
    write(measure)
    content = bytearray(measure.size())
    write(pa.FixedSizeBufferWriter(pa.py_buffer(content)))
    return memoryview(content)


def _table_bytes(table: Any) -> bytes | memoryview:
    """A table stored: small ones as an Arrow IPC file, others as Parquet."""
    return _arrow_file(table) if table.nbytes <= SMALL_TABLE_BYTES else _parquet(table)


def _read_table(data: bytes | memoryview) -> Any:
    """The table in ``data``, an Arrow IPC file or a Parquet file."""
    if data[: len(_ARROW_FILE_MAGIC)] == _ARROW_FILE_MAGIC:
        import pyarrow as pa

        return pa.ipc.open_file(pa.py_buffer(data)).read_all()
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


def _from_pandas(frame: Any) -> Any:
    """The Arrow table of a DataFrame; a small one converted on this thread (a thread
    pool, pyarrow's choice for frames of many rows, costs more to start than it saves)."""
    import pyarrow as pa

    rows, columns = frame.shape
    small = rows * columns * 8 <= SMALL_TABLE_BYTES
    return pa.Table.from_pandas(frame, nthreads=1 if small else None)


def _is_json(value: Any) -> bool:
    from steward.pipelines.graph import is_json_value

    return is_json_value(value)


def _is_model(value: Any) -> bool:
    from steward.models.flavors import detect_flavor

    try:
        detect_flavor(value)
    except InvalidInput:
        return False
    return True


def encode(value: Any, step: str, output: str = "output") -> Encoded:
    """``value`` in a stored form.

    Raises:
        InvalidInput: Steward cannot store this type (names the step and the type).
    """
    module = type(value).__module__.split(".")[0]
    name = type_name(value)
    if module == "pandas":
        import pandas as pd

        if isinstance(value, pd.Series):
            frame = value.to_frame(name=_PANDAS_SERIES_COLUMN if value.name is None else value.name)
            table = _from_pandas(frame)
            meta = {**(table.schema.metadata or {}), b"steward.series": b"1"}
            return Encoded("pandas", _table_bytes(table.replace_schema_metadata(meta)), name)
        if isinstance(value, pd.DataFrame):
            import pyarrow as pa

            try:
                return Encoded("pandas", _table_bytes(_from_pandas(value)), name)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise InvalidInput(
                    f"step {step!r} returned a DataFrame that Arrow cannot hold ({exc}); "
                    "give its columns plain types (numbers, strings, dates, lists)."
                ) from None
    if module == "polars" and name == "polars.DataFrame":
        return Encoded("polars", _table_bytes(value.to_arrow()), name)
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(value, pa.RecordBatch):
            value = pa.Table.from_batches([value])
        if isinstance(value, pa.Table):
            return Encoded("arrow", _table_bytes(value), name)
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise InvalidInput(
                    f"step {step!r} returned a NumPy array of Python objects, which Steward "
                    "will not pickle; return an array of numbers or strings, or a DataFrame."
                )
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=False)
            return Encoded("numpy", buffer.getvalue(), name)
        if isinstance(value, np.generic):
            return Encoded("json", json.dumps(value.item()).encode(), name)
    if isinstance(value, bytes | bytearray | memoryview):
        return Encoded("bytes", bytes(value), name)
    if _is_json(value):
        return Encoded("json", json.dumps(value).encode(), name)
    if _is_model(value):
        return Encoded(MODEL_KIND, None, name)
    raise InvalidInput(
        f"step {step!r} returned a {name} as {output!r}, which Steward cannot store safely. "
        "Return a DataFrame (pandas, polars, Arrow), a NumPy array, a model (scikit-learn, "
        "ONNX, XGBoost, LightGBM or a steward.models.PythonModel), bytes or a JSON value; "
        "for several values use @steward.step(outputs=[...]) and return a tuple."
    )


def decode(kind: str, data: bytes | memoryview) -> Any:
    """The value stored as ``data`` by codec ``kind`` (not for models).

    Raises:
        InvalidInput: an unknown codec.
    """
    if kind == "json":
        return json.loads(bytes(data))
    if kind == "bytes":
        return data
    if kind == "numpy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if kind in ("pandas", "polars", "arrow"):
        table = _read_table(data)
        if kind == "arrow":
            return table
        if kind == "polars":
            import polars as pl

            return pl.from_arrow(table)
        frame = table.to_pandas()
        if (table.schema.metadata or {}).get(b"steward.series"):
            series = frame.iloc[:, 0]
            return series.rename(None) if series.name == _PANDAS_SERIES_COLUMN else series
        return frame
    raise InvalidInput(f"unknown output codec {kind!r}; was it stored by a newer Steward?")


def store_model(value: Any, path: str) -> dict[str, Any]:
    """Log a model as artifacts of the active (step) run; the output's meta and digest.

    Returns:
        ``{"digest", "size", "meta"}``: the model's metadata blob and where it lives.
    """
    from steward.models.fluent import log

    info = log(value, path)
    return {
        "digest": info.metadata_digest,
        "size": sum(item["size"] for item in info.metadata.files.values()),
        "meta": {"run_id": info.run_id, "path": info.artifact_path, "flavor": info.flavor},
    }


def load_output(workspace: Workspace, output: StepOutput, trust: bool = False) -> Any:
    """Read a stored output back (a model through its flavor, verified).

    Raises:
        NotFound: a blob or model file is missing.
        IntegrityError: stored bytes no longer match their digest.
    """
    if output.inline is not None:
        return decode(output.kind, output.inline.encode())
    if output.kind != MODEL_KIND:
        return decode(output.kind, workspace.blobs.get_bytes(output.digest))
    from steward.models.fluent import materialize
    from steward.models.package import load_native

    folder, metadata = materialize(
        workspace, output.meta["run_id"], output.meta["path"], output.digest
    )
    return load_native(folder, metadata, trust=trust)


def put(writer: BlobWriter | BlobStore, encoded: Encoded) -> tuple[str, int, str | None]:
    """Store an encoded value's bytes; its digest, size and, for a small JSON value kept
    inline (no blob written), its text."""
    assert encoded.data is not None
    if encoded.kind == "json" and len(encoded.data) <= INLINE_LIMIT:
        from steward.blobs.digest import digest_bytes

        # The digest the blob would have, so cache keys do not depend on where it lives.
        digest = digest_bytes(encoded.data, writer.algorithm)
        return digest, len(encoded.data), bytes(encoded.data).decode()
    ref = writer.put_bytes(encoded.data)
    return ref.digest, ref.size, None


def independent_copy(value: Any) -> Any:
    """A value a step may change without changing what other steps see.

    Frames are copied shallowly (pandas' copy-on-write keeps writes apart),
    arrays handed out read-only, JSON values copied; models are shared.
    """
    module = type(value).__module__.split(".")[0]
    if module == "pandas":
        return value.copy(deep=False)
    if module == "numpy" and hasattr(value, "flags"):
        view = value.view()
        view.flags.writeable = False
        return view
    if isinstance(value, list | dict):
        import copy

        return copy.deepcopy(value)
    return value
