"""Arrow columns built straight from NumPy buffers and Python strings.

``pyarrow.array`` imports pandas on its first call whenever pandas is
installed (it checks every input for pandas types), which costs a server
about 40 MB for good. The prediction log's columns are simple — numbers,
times, strings, lists of probabilities — so they are assembled here from
buffers (``pyarrow.Array.from_buffers``), and a server of numeric models
never loads pandas. The values are exact: NaN stays NaN, nothing is
converted through text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def _validity(valid: np.ndarray) -> Any:
    """An Arrow validity bitmap (None when every value is present)."""
    import numpy as np
    import pyarrow as pa

    if valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def numbers(values: np.ndarray, valid: np.ndarray | None = None) -> Any:
    """A 1-D array of booleans, integers (as 64-bit, signed or not) or floats (32 or 64-bit)."""
    import numpy as np
    import pyarrow as pa

    values = np.asarray(values)
    nulls = None if valid is None else _validity(valid)
    null_count = 0 if nulls is None or valid is None else int((~valid).sum())
    if values.dtype.kind == "b":
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), len(values), [nulls, data], null_count)
    kind, dtype = {
        "i": (pa.int64(), np.int64),
        "u": (pa.uint64(), np.uint64),
        "f": (pa.float32(), np.float32)
        if values.dtype == np.float32
        else (pa.float64(), np.float64),
    }[values.dtype.kind]
    values = np.ascontiguousarray(values, dtype=dtype)
    return pa.Array.from_buffers(kind, len(values), [nulls, pa.py_buffer(values)], null_count)


def repeated_integer(value: int | None, rows: int) -> Any:
    """``value`` (or nothing, for None) on each of ``rows`` rows, as a 64-bit integer column."""
    import numpy as np
    import pyarrow as pa

    if value is None:
        return pa.nulls(rows, pa.int64())
    return numbers(np.full(rows, value, dtype=np.int64))


def timestamps_ms(values: Sequence[int] | np.ndarray) -> Any:
    """Milliseconds since the epoch as a UTC timestamp column."""
    import numpy as np
    import pyarrow as pa

    data = pa.py_buffer(np.asarray(values, dtype=np.int64))
    return pa.Array.from_buffers(pa.timestamp("ms", tz="UTC"), len(values), [None, data])


def strings(values: Sequence[str | None]) -> Any:
    """Strings where some may be missing (None)."""
    import numpy as np
    import pyarrow as pa

    if None not in values and all(type(value) is str for value in values):
        data = "".join(values).encode()  # type: ignore[arg-type]
        lengths = np.fromiter(map(len, values), np.int64, len(values))  # type: ignore[arg-type]
        if len(data) == int(lengths.sum()):  # ASCII (request ids): one encode, not one a row
            offsets = np.zeros(len(values) + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:])
            buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
            return pa.Array.from_buffers(pa.string(), len(values), buffers, 0)
    return string_runs(values, [1] * len(values))


def string_runs(values: Sequence[str | None], counts: Sequence[int]) -> Any:
    """Each of ``values`` (or nothing, for None) repeated ``counts`` times, in order: a
    column constant over each entry's rows, built without a Python object per row."""
    import numpy as np
    import pyarrow as pa

    encoded = [b"" if value is None else str(value).encode() for value in values]
    repeats = np.asarray(counts, dtype=np.int64)
    lengths = np.repeat(np.fromiter(map(len, encoded), np.int64, len(encoded)), repeats)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    valid = np.repeat(np.array([value is not None for value in values], dtype=bool), repeats)
    data = b"".join(item * int(count) for item, count in zip(encoded, counts, strict=True))
    buffers = [_validity(valid), pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(lengths), buffers, int((~valid).sum()))


def float_rows(blocks: Sequence[np.ndarray | None], counts: Sequence[int]) -> Any:
    """Lists of floats (rows of class probabilities) from blocks of rows: a 2-D array
    per entry, or None for an entry's ``count`` rows that have none."""
    import numpy as np
    import pyarrow as pa

    widths = [0 if block is None else block.shape[1] for block in blocks]
    repeats = np.asarray(counts, dtype=np.int64)
    lengths = np.repeat(np.asarray(widths, dtype=np.int64), repeats)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    present = [block.ravel() for block in blocks if block is not None]
    flat = np.concatenate(present).astype(np.float64) if present else np.zeros(0)
    valid = np.repeat(np.array([block is not None for block in blocks], dtype=bool), repeats)
    return pa.ListArray.from_buffers(
        pa.list_(pa.float64()),
        len(lengths),
        [_validity(valid), pa.py_buffer(offsets)],
        int((~valid).sum()),
        children=[numbers(flat)],
    )


def outputs(parts: Sequence[np.ndarray]) -> Any:
    """Model outputs, one array per request, as one column with a value per row.

    Numbers stay numbers and text stays text without pandas; anything else —
    several outputs per row, objects, missing values — goes through
    ``pyarrow.array``, which types it from the values as it always did.
    """
    import numpy as np
    import pyarrow as pa

    if parts and all(part.ndim == 1 for part in parts):
        column = np.concatenate(parts)
        if column.dtype.kind in "biuf":
            return numbers(column)
        listed: list[Any] = column.tolist()
        if column.dtype.kind in "OU" and all(type(value) is str for value in listed):
            return strings(listed)
    return pa.array([row for part in parts for row in part.tolist()])
