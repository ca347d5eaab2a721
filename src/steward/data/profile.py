"""Mergeable statistical profiles of tables, computed in one streaming pass.

A profile holds, per column: count of values, nulls, a distinct-count
estimate, and

* for numbers: min, max, mean and the sum of squared deviations (merged
  exactly with Chan's parallel formula), and a quantile sketch within 1%
  relative error (``steward.data.sketches``). Histograms (equal-width bins
  over [min, max]) are derived from the sketch, so they merge too. Columns
  of few distinct values are summarised from their counts
  (``steward.data.numeric``): the same statistics, sooner.
* for categories (strings, booleans): counts of the most frequent values
  (the top ``TOP_VALUES_KEPT`` are kept; the rest are summed in ``other``, so
  frequencies of rare values are approximate after truncation).
* distinct counts: a HyperLogLog sketch (4096 registers, about 1.6% standard
  error); merging takes the register-wise maximum.

So the profile of a table equals the merge of the profiles of its parts,
which is what lets monitoring use profiles as drift references without the
raw data. CSV files are read with pyarrow's streaming reader in blocks and
Parquet files by record batch: memory stays bounded whatever the file size.
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from steward.data.chunking import worker_count
from steward.data.csv_split import MappedRanges, row_aligned_ranges
from steward.data.numeric import numeric_statistics
from steward.data.sketches import (
    HLL_REGISTER_COUNT,
    QuantileSketch,
    hash_strings,
    hll_estimate,
    hll_registers,
)
from steward.errors import InvalidInput

TOP_VALUES_KEPT = 1000
HISTOGRAM_BINS = 20
CSV_BLOCK_SIZE = 2 << 20
"""Bytes of CSV parsed at a time by one reader (smaller blocks: less memory, and on
this 2-core VM, faster too: 200 MB in 1.7 s at 2 MiB vs 2.3 s at 4 MiB)."""
CSV_RANGES_MAX = 8
"""At most this many readers at once on one file (each holds a block or two). There is
one per core, each profiling its blocks as it reads them: on 2 cores, a first add of a
200 MiB CSV (profiled while stored) took 0.88-0.97 s this way against 0.98-1.09 s with
one reader whose blocks' columns were profiled on the other core."""
PARALLEL_CSV_MIN = 32 << 20
"""CSV files from this size on are profiled as several ranges at once."""
RETYPED_CSV_MIN = 4 * CSV_BLOCK_SIZE
"""CSV files from this size on are read again with the types of their first block (which
is parsed twice: worth it only when it is a small part of the file)."""
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def table_memory_pool() -> Any:
    """The Arrow memory pool that tables are read and profiled with: the system allocator.

    Not Arrow's default (mimalloc): it backs large allocations with transparent
    huge pages and hands freed memory back to the system within milliseconds,
    so a streaming read, which frees a few MiB per block and allocates as much
    for the next, has the kernel fault in and zero fresh huge pages all along
    (0.2-0.9 s of system time per 200 MB CSV in a fresh process, against
    0.05-0.1 s here). The system allocator keeps freed blocks for the next.
    """
    import pyarrow as pa

    return pa.system_memory_pool()


# -- columns and tables ---------------------------------------------------------


@dataclass(frozen=True)
class ColumnProfile:
    """Statistics of one column; ``merge`` combines the profiles of two parts."""

    name: str
    dtype: str
    kind: str  # "numeric", "categorical" or "other"
    count: int = 0
    nulls: int = 0
    distinct_registers: bytes = bytes(HLL_REGISTER_COUNT)
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    m2: float = 0.0
    sketch: QuantileSketch | None = None
    top: dict[str, int] = field(default_factory=dict)
    other: int = 0

    @property
    def distinct(self) -> int:
        """Estimated number of distinct non-null values."""
        return hll_estimate(np.frombuffer(self.distinct_registers, dtype=np.uint8))

    @property
    def std(self) -> float | None:
        """Sample standard deviation (None below two values)."""
        if self.kind != "numeric" or self.count < 2:
            return None
        return math.sqrt(max(self.m2, 0.0) / (self.count - 1))

    def quantiles(self) -> dict[str, float | None]:
        """Values at ``QUANTILES`` (clamped to [min, max])."""
        if self.sketch is None or self.min is None or self.max is None:
            return {}
        low, high = self.min, self.max
        result: dict[str, float | None] = {}
        for q in QUANTILES:
            value = self.sketch.quantile(q)
            result[f"p{round(q * 100)}"] = None if value is None else min(max(value, low), high)
        return result

    def histogram(self, bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
        """Equal-width histogram over [min, max], derived from the sketch."""
        if self.sketch is None or self.min is None or self.max is None:
            return {}
        low, high = self.min, self.max
        width = (high - low) / bins if high > low else 1.0
        edges = [low + i * width for i in range(bins + 1)]
        counts = [0] * bins
        for value, count in self.sketch.buckets():
            slot = int((min(max(value, low), high) - low) / width)
            counts[min(max(slot, 0), bins - 1)] += count
        return {"edges": edges, "counts": [float(c) for c in counts]}

    def top_values(self, limit: int = 10) -> list[tuple[str, int]]:
        """The most frequent values with their counts, most frequent first."""
        return sorted(self.top.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """The profile of both parts together."""
        kind = self.kind if self.kind == other.kind else "other"
        if self.count == 0 and self.kind != other.kind:
            kind = other.kind
        elif other.count == 0 and self.kind != other.kind:
            kind = self.kind
        dtype = self.dtype if self.dtype == other.dtype else _common_dtype(self, other)
        registers = np.maximum(
            np.frombuffer(self.distinct_registers, dtype=np.uint8),
            np.frombuffer(other.distinct_registers, dtype=np.uint8),
        ).tobytes()
        merged = ColumnProfile(
            name=self.name,
            dtype=dtype,
            kind=kind,
            count=self.count + other.count,
            nulls=self.nulls + other.nulls,
            distinct_registers=registers,
            min=_pick(min, self.min, other.min),
            max=_pick(max, self.max, other.max),
        )
        if kind == "numeric":
            mean, m2 = _merge_moments(self, other)
            sketches = [s for s in (self.sketch, other.sketch) if s is not None]
            sketch = sketches[0] if len(sketches) == 1 else None
            if len(sketches) == 2:
                sketch = sketches[0].merge(sketches[1])
            return replace(merged, mean=mean, m2=m2, sketch=sketch or QuantileSketch())
        if kind == "categorical":
            top, other_count = _truncate(_add_str_counts(self.top, other.top))
            return replace(merged, top=top, other=self.other + other.other + other_count)
        return merged

    def summary(self) -> dict[str, Any]:
        """The readable statistics (what ``steward data show`` prints)."""
        data: dict[str, Any] = {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "distinct": self.distinct,
        }
        if self.kind == "numeric":
            data.update(min=self.min, max=self.max, mean=self.mean, std=self.std)
            data["quantiles"] = self.quantiles()
            data["histogram"] = self.histogram()
        elif self.kind == "categorical":
            data["top"] = self.top_values()
        elif self.min is not None:
            data.update(min=self.min, max=self.max)
        return data

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (merge state included)."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "distinct_registers": base64.b64encode(self.distinct_registers).decode(),
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "m2": self.m2,
            "sketch": None if self.sketch is None else self.sketch.to_json(),
            "top": self.top,
            "other": self.other,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnProfile:
        """Read ``to_json`` data."""
        return cls(
            name=data["name"],
            dtype=data["dtype"],
            kind=data["kind"],
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            distinct_registers=base64.b64decode(data["distinct_registers"]),
            min=data["min"],
            max=data["max"],
            mean=data["mean"],
            m2=float(data["m2"]),
            sketch=None if data["sketch"] is None else QuantileSketch.from_json(data["sketch"]),
            top={str(k): int(v) for k, v in data["top"].items()},
            other=int(data["other"]),
        )


def _pick(choose: Any, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)


def _common_dtype(a: ColumnProfile, b: ColumnProfile) -> str:
    if a.count == 0:
        return b.dtype
    if b.count == 0:
        return a.dtype
    if a.kind == b.kind == "numeric":
        return "double"
    return "string"


def _merge_moments(a: ColumnProfile, b: ColumnProfile) -> tuple[float | None, float]:
    if a.count == 0 or a.mean is None:
        return b.mean, b.m2
    if b.count == 0 or b.mean is None:
        return a.mean, a.m2
    total = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * b.count / total
    m2 = a.m2 + b.m2 + delta * delta * a.count * b.count / total
    return mean, m2


def _add_str_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    merged = dict(a)
    for key, count in b.items():
        merged[key] = merged.get(key, 0) + count
    return merged


def _truncate(counts: dict[str, int]) -> tuple[dict[str, int], int]:
    if len(counts) <= TOP_VALUES_KEPT:
        return counts, 0
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:TOP_VALUES_KEPT])
    return kept, sum(count for _, count in ranked[TOP_VALUES_KEPT:])


@dataclass(frozen=True)
class TableProfile:
    """The profile of a table: row count and one profile per column, in order."""

    rows: int
    columns: tuple[ColumnProfile, ...]

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``.

        Raises:
            KeyError: no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def schema(self) -> list[dict[str, Any]]:
        """Column names, dtypes and whether nulls were seen."""
        return [{"name": c.name, "dtype": c.dtype, "nullable": c.nulls > 0} for c in self.columns]

    def merge(self, other: TableProfile) -> TableProfile:
        """The profile of both tables stacked (columns matched by name)."""
        mine = {c.name: c for c in self.columns}
        theirs = {c.name: c for c in other.columns}
        names = [c.name for c in self.columns] + [
            c.name for c in other.columns if c.name not in mine
        ]
        merged = []
        for name in names:
            left = mine.get(name) or _absent(theirs[name], self.rows)
            right = theirs.get(name) or _absent(mine[name], other.rows)
            merged.append(left.merge(right))
        return TableProfile(self.rows + other.rows, tuple(merged))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {"rows": self.rows, "columns": [c.to_json() for c in self.columns]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableProfile:
        """Read ``to_json`` data."""
        return cls(int(data["rows"]), tuple(ColumnProfile.from_json(c) for c in data["columns"]))


def _absent(like: ColumnProfile, rows: int) -> ColumnProfile:
    """A column missing from a part: all of its rows are nulls."""
    return ColumnProfile(name=like.name, dtype=like.dtype, kind=like.kind, nulls=rows)


# -- computing ------------------------------------------------------------------


def _kind_of(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_dictionary(arrow_type)
    ):
        return "categorical"
    return "other"


_NUMPY_NAMES = {"double": "float64", "float": "float32", "halffloat": "float16"}


def _numbers(array: Any) -> np.ndarray:
    """A null-free integer or floating arrow array as a numpy view of its data buffer.

    Not ``Array.to_numpy``: it imports pandas (a second, on the first profile
    of a process) whenever pandas is installed.
    """
    dtype = np.dtype(_NUMPY_NAMES.get(str(array.type), str(array.type)))
    data = array.buffers()[1]
    if data is None or len(array) == 0:
        return np.empty(0, dtype=dtype)
    return np.frombuffer(data, dtype=dtype)[array.offset : array.offset + len(array)]


def profile_array(name: str, array: Any) -> ColumnProfile:
    """Profile one arrow array (or chunked array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = _kind_of(array.type)
    dtype = str(array.type)
    nulls = array.null_count
    pool = table_memory_pool()
    present = pc.drop_null(array, memory_pool=pool) if nulls else array
    if kind == "numeric":
        if isinstance(present, pa.ChunkedArray):
            present = present.combine_chunks(memory_pool=pool)
        if pa.types.is_decimal(present.type):
            present = present.cast(pa.float64(), memory_pool=pool)
        stats = numeric_statistics(_numbers(present))
        return ColumnProfile(
            name,
            dtype,
            kind,
            count=stats.count,
            nulls=nulls + stats.unusable,
            distinct_registers=stats.registers or bytes(HLL_REGISTER_COUNT),
            min=stats.min,
            max=stats.max,
            mean=stats.mean,
            m2=stats.m2,
            sketch=stats.sketch,
        )
    count = len(present)
    if kind == "categorical":
        if pa.types.is_dictionary(present.type):
            present = present.cast(present.type.value_type, memory_pool=pool)
        counted = pc.value_counts(present, memory_pool=pool)
        values = counted.field("values").cast(pa.string(), memory_pool=pool)
        counts = _numbers(counted.field("counts"))
        keep = np.arange(len(counts))
        if len(counts) > TOP_VALUES_KEPT:
            keep = np.argpartition(-counts, TOP_VALUES_KEPT)[:TOP_VALUES_KEPT]
        indices = np.ascontiguousarray(keep, dtype=np.int64)  # from the buffer: see _numbers
        taken = pa.Array.from_buffers(pa.int64(), len(indices), [None, pa.py_buffer(indices)])
        kept_values = pc.take(values, taken, memory_pool=pool).to_pylist()
        top = {str(value): int(counts[i]) for value, i in zip(kept_values, keep, strict=True)}
        return ColumnProfile(
            name,
            dtype,
            kind,
            count=count,
            nulls=nulls,
            distinct_registers=hll_registers(hash_strings(values)).tobytes(),
            top=top,
            other=int(counts.sum()) - sum(top.values()),
        )
    profile = ColumnProfile(name, dtype, kind, count=count, nulls=nulls)
    if count:
        as_text = present.cast(pa.string())
        low_high = pc.min_max(present)
        profile = replace(
            profile,
            distinct_registers=hll_registers(hash_strings(as_text)).tobytes(),
            min=_plain(low_high["min"].as_py()),
            max=_plain(low_high["max"].as_py()),
        )
    return profile


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _submit_batch(batch: Any, pool: Executor) -> Callable[[], TableProfile]:
    """Start profiling ``batch``'s columns on ``pool``; the result is a call away."""
    futures = [
        pool.submit(profile_array, name, batch.column(index))
        for index, name in enumerate(batch.schema.names)
    ]
    rows = batch.num_rows
    return lambda: TableProfile(rows, tuple(future.result() for future in futures))


def profile_batch(batch: Any) -> TableProfile:
    """Profile one arrow record batch or table."""
    columns = tuple(
        profile_array(name, batch.column(index)) for index, name in enumerate(batch.schema.names)
    )
    return TableProfile(batch.num_rows, columns)


def merge_profiles(profiles: Iterable[TableProfile]) -> TableProfile:
    """Merge the profiles of parts into the profile of the whole.

    Raises:
        ValueError: no profiles given.
    """
    result: TableProfile | None = None
    for profile in profiles:
        result = profile if result is None else result.merge(profile)
    if result is None:
        raise ValueError("merge_profiles needs at least one profile.")
    return result


class _OnCallingThread(Executor):
    """An executor that runs each call at once, on the calling thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            done.set_exception(exc)
        return done


def profile_batches(
    batches: Iterable[Any], schema: Any, *, columns_side_by_side: bool = True
) -> TableProfile:
    """Profile a stream of record batches (the empty stream gives an empty profile).

    The columns of a batch are profiled side by side on a thread pool (numpy
    and arrow release the GIL for the heavy work) while the next batch is
    read, and merged into the result as soon as done: only two batches (and
    what the reader reads ahead) are in memory.

    Args:
        columns_side_by_side: False profiles each batch on the calling thread
            before reading the next: for streams read side by side, one per
            core, which keep the cores busy without handing work between threads.
    """
    if columns_side_by_side:
        with ThreadPoolExecutor(max_workers=worker_count()) as pool:
            return _profile_stream(batches, schema, pool)
    return _profile_stream(batches, schema, _OnCallingThread())


def _profile_stream(batches: Iterable[Any], schema: Any, pool: Executor) -> TableProfile:
    import pyarrow as pa

    # An empty batch built from typed null arrays: ``from_pylist`` (and
    # ``Schema.empty_table``) import pandas, a second of the first profile's time.
    empty = pa.RecordBatch.from_arrays([pa.nulls(0, field.type) for field in schema], schema=schema)
    result = profile_batch(empty)
    previous: Callable[[], TableProfile] | None = None
    for batch in batches:
        current = _submit_batch(batch, pool)
        if previous is not None:
            result = result.merge(previous())
        previous = current
    if previous is not None:
        result = result.merge(previous())
    return result


def profile_table(table: Any) -> TableProfile:
    """Profile an in-memory arrow table, batch by batch."""
    return profile_batches(table.to_batches(max_chunksize=1 << 20), table.schema)


def profile_parquet(source: Any) -> TableProfile:
    """Profile a Parquet file (path or file object) by record batch."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source)
    return profile_batches(parquet.iter_batches(batch_size=1 << 20), parquet.schema_arrow)


_COLUMN_IN_ERROR = re.compile(r"In CSV column #(\d+)")


def profile_csv(path: Path, display_name: str | None = None) -> TableProfile:
    """Profile a CSV file in one streaming pass with bounded memory.

    Types are inferred from the first block; a column that later turns out
    wider (an integer column with a decimal further down) is widened and the
    pass restarted. A large file is read as several row-aligned ranges at
    once (one per core), their profiles merged: the same profile, sooner.

    Raises:
        InvalidInput: the file does not parse (names the file and line).
    """
    import pyarrow as pa

    name = display_name or str(path)
    column_types: dict[str, Any] = {}
    parallel = path.stat().st_size >= PARALLEL_CSV_MIN
    while True:
        bad_rows: list[str] = []
        try:
            return _profile_csv_pass(path, column_types, bad_rows, parallel)
        except pa.ArrowInvalid as exc:
            message = str(exc)
            column = _COLUMN_IN_ERROR.search(message)
            if "conversion error" in message and column and len(column_types) < 1000:
                names = _csv_header(path)
                index = int(column.group(1))
                if index < len(names):
                    widened = pa.float64() if "to int" in message else pa.string()
                    if column_types.get(names[index]) != widened:
                        column_types[names[index]] = widened
                        continue
            if parallel:  # say what is wrong as one pass through the whole file would
                parallel = False
                continue
            if bad_rows:
                line = _line_of(path, bad_rows[0])
            elif "invalid utf8" in message.lower():
                line = _first_line_not_utf8(path)
            else:
                line = None
            where = f"{name} line {line}" if line else name
            raise InvalidInput(
                f"{where} is not valid CSV: {message}. Fix the file or add it under "
                "a name without the .csv suffix to store it without a profile."
            ) from exc


def _profile_csv_pass(
    path: Path, column_types: dict[str, Any], bad_rows: list[str], parallel: bool
) -> TableProfile:
    """One pass over ``path`` with ``column_types`` forced; malformed rows go to ``bad_rows``.

    With ``parallel``, row-aligned ranges are read side by side (see
    ``steward.data.csv_split``), unless the file holds a quote.

    Raises:
        pyarrow.ArrowInvalid: a row does not parse or a value does not convert.
    """

    def on_invalid(row: Any) -> str:
        bad_rows.append(row.text)
        return "error"

    first = csv_batches(path, column_types, on_invalid=on_invalid)
    schema = first.schema
    # Types are told by name: a header naming a column twice is read as Arrow infers it.
    told = len(set(schema.names)) == len(schema.names)
    readers = min(worker_count(), CSV_RANGES_MAX)
    ranges = row_aligned_ranges(path, readers) if parallel and told else []
    if len(ranges) < 2 and (path.stat().st_size < RETYPED_CSV_MIN or not told):
        return profile_batches(first, schema)
    # The rest is read with the types the first block gave, as one streaming pass would,
    # but told instead of inferred (Arrow's inferring reader parses each block a third slower).
    first.close()
    types = {field.name: field.type for field in schema}
    if len(ranges) < 2:
        whole = csv_batches(path, types, on_invalid=on_invalid)
        return profile_batches(whole, whole.schema)

    with MappedRanges(path) as mapped:

        def profile_range(index: int) -> TableProfile | None:
            start, end = ranges[index]
            part = mapped.reader(start, end)
            if part is None:
                return None
            names = None if index == 0 else schema.names
            stream = csv_batches(
                part, types, column_names=names, on_invalid=on_invalid, unquoted=True
            )
            batches = mapped.until_quoted(stream)
            return profile_batches(batches, stream.schema, columns_side_by_side=False)

        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            parts = list(pool.map(profile_range, range(len(ranges))))
        if not mapped.quoted.is_set():
            return merge_profiles(part for part in parts if part is not None)
    # A quote may hide a newline that a cut went through: read the file whole.
    bad_rows.clear()
    whole = csv_batches(path, column_types, on_invalid=on_invalid)
    return profile_batches(whole, whole.schema)


def csv_batches(
    source: Any,
    column_types: Mapping[str, Any] | None = None,
    *,
    column_names: Sequence[str] | None = None,
    include_columns: Sequence[str] | None = None,
    on_invalid: Callable[[Any], str] | None = None,
    unquoted: bool = False,
) -> Any:
    """A streaming reader of a CSV file's record batches, as Steward reads every CSV.

    Blocks of ``CSV_BLOCK_SIZE`` (bounded memory), and quoted values may span
    lines (no cost for a streaming reader). A path is memory-mapped: blocks
    are slices of the page cache, not copies into freshly allocated buffers
    (a third of the system time of reading; storing the file maps it too).

    Args:
        source: a path or a binary file object.
        column_types: arrow types to use instead of inferring them.
        column_names: the columns' names when ``source`` has no header row.
        include_columns: read only these columns.
        on_invalid: called with each malformed row (see pyarrow's ``invalid_row_handler``).
        unquoted: ``source`` is known to hold no quote character: parsed without
            looking for quotes, on the calling thread (for ranges read side by side).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if isinstance(source, str | os.PathLike):
        source = pa.memory_map(os.fspath(source))
    return pacsv.open_csv(
        source,
        memory_pool=table_memory_pool(),
        read_options=pacsv.ReadOptions(
            block_size=CSV_BLOCK_SIZE,
            column_names=None if column_names is None else list(column_names),
            use_threads=not unquoted,
        ),
        parse_options=pacsv.ParseOptions(
            invalid_row_handler=on_invalid,
            newlines_in_values=not unquoted,
            quote_char=False if unquoted else '"',
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(column_types or {}),
            include_columns=None if include_columns is None else list(include_columns),
        ),
    )


def column_types(profile: TableProfile) -> dict[str, Any]:
    """The arrow types of ``profile``'s columns, for reading its CSV again alike.

    Types without a plain name (e.g. ``timestamp[s]``) are left out: inferred.
    """
    import pyarrow as pa

    types = {}
    for column in profile.columns:
        try:
            types[column.name] = pa.type_for_alias(column.dtype)
        except ValueError:
            continue
    return types


def profile_csv_appended(path: Path, offset: int, like: TableProfile) -> TableProfile | None:
    """Profile the rows of a CSV file from byte ``offset`` on, typed as ``like``.

    For a file that grew by appended rows: ``offset`` is where the rows
    already profiled as ``like`` end (a row boundary). Merged with ``like``,
    the result is the whole file's profile.

    Returns:
        The profile of the new rows, or None when they do not parse as
        ``like``'s columns and types (a column widened, a row is malformed):
        profile the whole file then.
    """
    import pyarrow as pa

    types = column_types(like)  # others inferred; must come out as the same type (checked below)
    with path.open("rb") as handle:
        handle.seek(offset)
        try:
            reader = csv_batches(handle, types, column_names=[c.name for c in like.columns])
            appended = profile_batches(reader, reader.schema)
        except pa.ArrowInvalid:
            return None
    if [c.dtype for c in appended.columns] != [c.dtype for c in like.columns]:
        return None
    return appended


def _csv_header(path: Path) -> list[str]:
    import csv

    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        return next(csv.reader(handle), [])


def _line_of(path: Path, text: str) -> int | None:
    with path.open("rb") as handle:
        target = text.encode()
        for number, line in enumerate(handle, start=1):
            if line.rstrip(b"\r\n") == target:
                return number
    return None


def _first_line_not_utf8(path: Path) -> int | None:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None
