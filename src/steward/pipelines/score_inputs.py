"""What batch scoring reads: units of work, each read in bounded-memory chunks.

A source is named as a monitor names a table (``steward.monitoring``):
Parquet or CSV files (a path, a folder, a glob, an ``s3://`` prefix) or a
dataset version (``dataset:NAME``, ``dataset:NAME:3``, ``dataset:NAME:ALIAS``).
A unit is one Parquet row group or one CSV file; a unit is cut into chunks
of at most ``chunk_rows`` rows, always the same way, so an interrupted job
finds its chunks again by number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import pyarrow as pa

    from steward.models.signature import Signature

DATASET_PREFIX = "dataset:"


@dataclass(frozen=True)
class ScoreUnit:
    """One piece of the input a worker scores alone."""

    index: int
    file: str
    """The file as the user knows it (a path, a URL, or ``dataset:NAME:V/relpath``)."""
    kind: str
    """``parquet`` or ``csv``."""
    row_group: int | None
    rows: int | None
    """Rows in the unit, when known without reading it (Parquet)."""


@dataclass(frozen=True)
class ScoreSource:
    """A resolved input: its units and how to open its files."""

    spec: str
    units: tuple[ScoreUnit, ...]
    storage_options: dict[str, Any] | None
    dataset: str | None = None
    """``name:version`` when the source is a dataset version."""

    @property
    def rows(self) -> int | None:
        """Rows in all units, if every unit's count is known."""
        counts = [unit.rows for unit in self.units if unit.rows is not None]
        return sum(counts) if len(counts) == len(self.units) else None


def _kind(name: str) -> str:
    lowered = name.split("?", 1)[0].lower()
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    if lowered.endswith(".csv"):
        return "csv"
    raise InvalidInput(f"{name} is neither Parquet nor CSV (by its name); score .parquet or .csv.")


def open_file(source: ScoreSource, name: str) -> Any:
    """A binary stream of one input file."""
    if name.startswith(DATASET_PREFIX):
        from steward.data.versions import resolve

        ref, _, relpath = name.removeprefix(DATASET_PREFIX).partition("/")
        return resolve(ref).open(relpath)
    if "://" in name:
        import fsspec

        return fsspec.open(name, "rb", **(source.storage_options or {})).open()
    return open(name, "rb")


def _parquet_units(name: str, handle: Any, start: int) -> list[ScoreUnit]:
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(handle).metadata
    return [
        ScoreUnit(start + group, name, "parquet", group, metadata.row_group(group).num_rows)
        for group in range(metadata.num_row_groups)
    ]


def resolve_source(spec: str, storage_options: dict[str, Any] | None = None) -> ScoreSource:
    """The units of ``spec``.

    Raises:
        NotFound: nothing matches, or no such dataset version.
        InvalidInput: a file that is neither Parquet nor CSV, or one that does not parse.
    """
    names: list[str]
    dataset = None
    if spec.startswith(DATASET_PREFIX):
        from steward.data.versions import resolve

        version = resolve(spec.removeprefix(DATASET_PREFIX))
        dataset = version.ref
        names = [
            f"{DATASET_PREFIX}{version.ref}/{entry.path}"
            for entry in version.manifest()
            if entry.is_tabular
        ]
        if not names:
            raise InvalidInput(f"dataset {version.ref} holds no CSV or Parquet file to score.")
    else:
        from steward.monitoring.monitors.sources import TableUnavailable, table_files

        try:
            fs, found = table_files(spec, storage_options)
        except TableUnavailable as exc:
            raise NotFound(str(exc)) from None
        protocol = fs.protocol if fs is not None else None
        prefix = (protocol[0] if isinstance(protocol, tuple) else protocol) if fs else None
        names = [name if fs is None or "://" in name else f"{prefix}://{name}" for name in found]
        if not names:
            raise NotFound(
                f"no Parquet or CSV files match {spec!r}; give a file, a folder, a glob, an "
                "s3:// prefix or dataset:NAME[:VERSION]."
            )
    source = ScoreSource(spec, (), storage_options, dataset)
    units: list[ScoreUnit] = []
    for name in names:
        kind = _kind(name)
        if kind == "csv":
            units.append(ScoreUnit(len(units), name, kind, None, None))
            continue
        try:
            with open_file(source, name) as handle:
                units += _parquet_units(name, handle, len(units))
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InvalidInput(f"{name} cannot be read as Parquet: {exc}") from None
    return ScoreSource(spec, tuple(units), storage_options, dataset)


def read_schema(source: ScoreSource, unit: ScoreUnit) -> pa.Schema:
    """The columns of a unit's file (a CSV's from its first block)."""
    with open_file(source, unit.file) as handle:
        if unit.kind == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(handle).schema_arrow
        from steward.data.profile import csv_batches

        schema: pa.Schema = csv_batches(handle).schema
        return schema


def check_schema(source: ScoreSource, signature: Signature | None) -> None:
    """Refuse, before anything is scored, a file that lacks a column the model needs or
    holds text where it needs numbers.

    Raises:
        InvalidInput: names the file and the column.
    """
    if signature is None or signature.kind != "columns":
        return
    import pyarrow.types as types

    seen: set[str] = set()
    for unit in source.units:
        if unit.file in seen:
            continue
        seen.add(unit.file)
        schema = read_schema(source, unit)
        for column in signature.inputs:
            if column.name is None:
                continue
            if column.name not in schema.names:
                if column.required:
                    raise InvalidInput(
                        f"{unit.file}: column {column.name!r} is missing; the model expects "
                        f"{', '.join(str(c.name) for c in signature.inputs)}."
                    )
                continue
            field = schema.field(column.name)
            numeric = column.dtype not in ("string", "object", "str", "bool")
            if numeric and (types.is_string(field.type) or types.is_large_string(field.type)):
                raise InvalidInput(
                    f"{unit.file}: column {column.name!r} holds text ({field.type}); the model "
                    f"expects {column.dtype}."
                )


def read_chunks(source: ScoreSource, unit: ScoreUnit, chunk_rows: int) -> Iterator[pa.Table]:
    """A unit's rows, ``chunk_rows`` at a time (the last chunk may be shorter)."""
    import pyarrow as pa

    with open_file(source, unit.file) as handle:
        if unit.kind == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(handle)
            assert unit.row_group is not None
            batches: Any = parquet.iter_batches(batch_size=chunk_rows, row_groups=[unit.row_group])
        else:
            from steward.data.profile import csv_batches

            batches = csv_batches(handle)
        pending: list[pa.RecordBatch] = []
        count = 0
        for batch in batches:
            pending.append(batch)
            count += batch.num_rows
            while count >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, chunk_rows)
                rest = table.slice(chunk_rows)
                pending, count = rest.to_batches(), rest.num_rows
        if count:
            yield pa.Table.from_batches(pending)
