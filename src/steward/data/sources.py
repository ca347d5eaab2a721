"""What can be added as a dataset: files, folders, globs and in-memory tables."""

from __future__ import annotations

import glob
import io
import os
from pathlib import Path
from typing import Any

from steward.errors import InvalidInput, NotFound

TABLE_FILE_NAME = "data.parquet"
_GLOB_CHARACTERS = frozenset("*?[")


def is_table(source: Any) -> bool:
    """Whether ``source`` is an in-memory table (pandas/polars DataFrame, arrow Table)."""
    module = type(source).__module__.split(".", 1)[0]
    return module in {"pandas", "polars", "pyarrow"} and hasattr(source, "columns")


def to_arrow_table(source: Any) -> Any:
    """Convert a pandas or polars DataFrame or an arrow Table to an arrow Table."""
    import pyarrow as pa

    if isinstance(source, pa.Table):
        return source
    module = type(source).__module__.split(".", 1)[0]
    if module == "polars":
        return source.to_arrow()
    if module == "pandas":
        try:
            return pa.Table.from_pandas(source)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"this DataFrame cannot be stored as Parquet: {exc}. Give each column "
                "one type (e.g. df[col].astype(str))."
            ) from exc
    raise InvalidInput(f"cannot add a {type(source).__name__} as a table.")


def table_to_parquet(table: Any) -> bytes:
    """Parquet bytes of an arrow table (deterministic for equal tables)."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=1 << 20)
    return buffer.getvalue()


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts:
        if _GLOB_CHARACTERS & set(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def collect_files(source: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """The files of a file, folder or glob as (relative path, absolute path), sorted.

    Raises:
        NotFound: the path does not exist or the glob matches nothing.
        InvalidInput: a folder without files.
    """
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_file():
        return [(path.name, path.absolute())]
    if path.is_dir():
        files = []
        for folder, _, names in os.walk(path):
            for name in names:
                full = Path(folder, name)
                if full.is_file():
                    files.append((full.relative_to(path).as_posix(), full.absolute()))
        if not files:
            raise InvalidInput(f"folder {path} has no files to add.")
        return sorted(files)
    if _GLOB_CHARACTERS & set(text):
        base = _glob_base(text)
        matches = [Path(m) for m in glob.glob(text, recursive=True)]
        files = [(m.relative_to(base).as_posix(), m.absolute()) for m in matches if m.is_file()]
        if not files:
            raise NotFound(f"the pattern {text!r} matches no files.")
        return sorted(files)
    raise NotFound(f"cannot add {text}: no such file or folder.")


def check_readable(files: list[tuple[str, Path]]) -> None:
    """Raise InvalidInput naming the first file that cannot be opened for reading."""
    for _, path in files:
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}.") from exc
