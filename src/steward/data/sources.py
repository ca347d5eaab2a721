"""What can be added as a dataset: files, folders, globs and in-memory tables."""

from __future__ import annotations

import glob
import io
import os
from operator import itemgetter
from pathlib import Path
from typing import Any

from steward.errors import InvalidInput, NotFound
from steward.paths import ListedFile, list_folder, resolve_link, unreadable_folder

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


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts:
        if _GLOB_CHARACTERS & set(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


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
        raise unreadable_folder(str(base))
    for folder, subfolders, _ in os.walk(base):
        level = len(Path(folder).relative_to(base).parts)
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        if depth is not None and level >= depth:
            subfolders[:] = []
        for name in subfolders:
            path = os.path.join(folder, name)
            if not os.access(path, os.R_OK | os.X_OK):
                raise unreadable_folder(path)


def _glob_files(pattern: str, follow_links: bool) -> list[ListedFile]:
    """The files a glob matches, by the link rule with the pattern's base as the folder."""
    base = _glob_base(pattern)
    if base.is_dir():
        _check_glob_folders(pattern, base)
    root = os.path.realpath(base)
    files = []
    for match in glob.glob(pattern, recursive=True):
        path = Path(match).absolute()
        if path.is_symlink() or os.path.realpath(path) != str(path):
            resolve_link(str(path), root, str(base), follow_links)
        if path.is_file():
            files.append(_file(path.relative_to(base.absolute()).as_posix(), path))
    return files


def _file(relpath: str, path: Path) -> ListedFile:
    return ListedFile(relpath, str(path), path.stat())


def collect_files(source: str | os.PathLike[str], follow_links: bool = False) -> list[ListedFile]:
    """The files of a file, folder or glob, sorted by relative path.

    Links in a folder (or below a glob's folder) follow the rule of
    ``steward.paths``: stored as their target's content when it is inside,
    refused when it is outside unless ``follow_links``.

    Raises:
        NotFound: the path does not exist or the glob matches nothing.
        InvalidInput: a folder without files, or a link that breaks the rule.
    """
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_file():
        return [_file(path.name, path.absolute())]
    if path.is_dir():
        files = list_folder(path.absolute(), follow_links)
        if not files:
            raise InvalidInput(f"folder {path} has no files to add.")
        return files
    if _GLOB_CHARACTERS & set(text):
        files = _glob_files(os.path.expanduser(text), follow_links)
        if not files:
            raise NotFound(f"the pattern {text!r} matches no files.")
        return sorted(files, key=itemgetter(0))
    if path.is_symlink():
        resolve_link(str(path), "/", text, True)  # names the link and its missing target
    raise NotFound(f"cannot add {text}: no such file or folder.")
