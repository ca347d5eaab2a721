"""What can be added as a dataset: files, folders, globs and in-memory tables."""

from __future__ import annotations

import glob
import io
import os
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

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
        # A named index (patient_id) is data; an unnamed one (0..n, or what a
        # shuffle or split left) is not: stored, it would be profiled as a
        # column and make equal rows a new version.
        named_index = any(name is not None for name in source.index.names)
        try:
            return pa.Table.from_pandas(source, preserve_index=named_index)
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


class SourceFile(NamedTuple):
    """One file to add: its path in the dataset, where it is, and its ``stat``."""

    relpath: str
    path: str
    stat: os.stat_result


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts:
        if _GLOB_CHARACTERS & set(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _unreadable(folder: str, reason: str = "permission denied") -> InvalidInput:
    return InvalidInput(
        f"cannot read folder {folder}: {reason.lower()}. Make it readable, or add the "
        "other folders without it."
    )


def _check_glob_folders(pattern: str, base: Path) -> None:
    """Raise if a folder the pattern reaches into cannot be listed.

    ``glob`` skips such folders without a word, which would make a version
    that looks complete. Hidden folders are not reached by ``*`` or ``**``.

    Raises:
        InvalidInput: names the folder.
    """
    parts = Path(pattern).parts[len(base.parts) :]
    depth = None if "**" in parts else len(parts) - 1  # folder levels below base
    if not os.access(base, os.R_OK | os.X_OK):
        raise _unreadable(str(base))
    for folder, subfolders, _ in os.walk(base):
        level = len(Path(folder).relative_to(base).parts)
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        if depth is not None and level >= depth:
            subfolders[:] = []
        for name in subfolders:
            path = os.path.join(folder, name)
            if not os.access(path, os.R_OK | os.X_OK):
                raise _unreadable(path)


def _walk(folder: str, prefix: str, found: list[SourceFile]) -> None:
    """Add the files under ``folder`` to ``found``, as ``os.walk`` would see them.

    Links to files are followed, links to folders are not.

    Raises:
        InvalidInput: a folder cannot be listed (a version without its files
            would look complete).
    """
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:  # removed while we looked
        return
    except OSError as exc:
        raise _unreadable(folder, exc.strerror or type(exc).__name__) from exc
    with entries:
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    _walk(entry.path, f"{prefix}{entry.name}/", found)
                elif entry.is_file():
                    found.append(SourceFile(prefix + entry.name, entry.path, entry.stat()))
            except FileNotFoundError:  # removed while we looked
                continue


def _file(relpath: str, path: Path) -> SourceFile:
    return SourceFile(relpath, str(path), path.stat())


def collect_files(source: str | os.PathLike[str]) -> list[SourceFile]:
    """The files of a file, folder or glob, sorted by relative path.

    Raises:
        NotFound: the path does not exist or the glob matches nothing.
        InvalidInput: a folder without files.
    """
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_file():
        return [_file(path.name, path.absolute())]
    if path.is_dir():
        files: list[SourceFile] = []
        _walk(str(path.absolute()), "", files)
        if not files:
            raise InvalidInput(f"folder {path} has no files to add.")
        return sorted(files, key=itemgetter(0))
    if _GLOB_CHARACTERS & set(text):
        text = os.path.expanduser(text)
        base = _glob_base(text)
        if base.is_dir():
            _check_glob_folders(text, base)
        matches = [Path(m) for m in glob.glob(text, recursive=True)]
        files = [
            _file(m.relative_to(base).as_posix(), m.absolute()) for m in matches if m.is_file()
        ]
        if not files:
            raise NotFound(f"the pattern {text!r} matches no files.")
        return sorted(files, key=itemgetter(0))
    raise NotFound(f"cannot add {text}: no such file or folder.")
