"""Tables a monitor can watch besides a model's prediction log.

A table source is a dataset (``dataset:NAME`` follows its latest version;
``dataset:NAME:3`` or ``dataset:NAME:ALIAS`` pins one) or Parquet / CSV files
(a path, a folder, a glob or an fsspec URL such as ``s3://bucket/scores/*.parquet``),
read again at every run, so a batch job that appends scored rows is watched
like a served model. The monitor's window cuts it by its timestamp column (or
takes its last N rows), and its columns are renamed into the prediction log's
shape — features as ``input.NAME``, the prediction column as ``prediction``,
the label column as ``label``, a probability column as ``probability`` — so
the rest of the evaluation is the same for both sources.
"""

from __future__ import annotations

import glob
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput, NotFound, StewardError
from steward.serving.prediction_log import INPUT_PREFIX

if TYPE_CHECKING:
    import pandas as pd

    from steward.monitoring.monitors.definition import Monitor

DATASET_PREFIX = "dataset:"
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_ROLE_COLUMNS = ("request_id",)
"""Columns of a scored table that are never features."""


class TableUnavailable(StewardError):
    """The table cannot be read; the message says why and what to do."""


def check_table(spec: str) -> None:
    """Refuse a table spec that cannot name anything.

    Raises:
        InvalidInput: the spec is empty or names no dataset.
    """
    if not spec.strip():
        raise InvalidInput("the monitored table is empty; give a path, a URL or 'dataset:NAME'.")
    if spec.startswith(DATASET_PREFIX) and not spec.removeprefix(DATASET_PREFIX):
        raise InvalidInput("table 'dataset:' names no dataset; use 'dataset:NAME[:VERSION]'.")


def require_table(spec: str) -> None:
    """Refuse a table that names nothing now (when a monitor is created).

    Raises:
        NotFound: the dataset (or its version) does not exist.
        InvalidInput: the files, folder or glob match no Parquet or CSV file.
    """
    if spec.startswith(DATASET_PREFIX):
        from steward.data.versions import resolve

        resolve(spec.removeprefix(DATASET_PREFIX))
        return
    try:
        _files(spec)
    except TableUnavailable as exc:
        raise InvalidInput(str(exc)) from None


def label_column(monitor: Monitor, columns: list[str]) -> str | None:
    """The table's label column: the monitor's target column, else ``label`` when present."""
    if monitor.target_column:
        return monitor.target_column if monitor.target_column in columns else None
    return "label" if "label" in columns else None


def read_table(spec: str) -> pd.DataFrame:
    """The whole table as it is now.

    Raises:
        TableUnavailable: no such dataset, no such files, or files that do not parse.
    """
    if spec.startswith(DATASET_PREFIX):
        from steward.data.versions import resolve

        try:
            return resolve(spec.removeprefix(DATASET_PREFIX)).to_pandas()
        except NotFound as exc:
            raise TableUnavailable(f"the monitored table {spec!r} cannot be found: {exc}") from None
        except StewardError as exc:  # no table in the version, a damaged blob…
            raise TableUnavailable(f"the monitored table {spec!r} cannot be read: {exc}") from None
    return _read_files(spec)


def _file_format(name: str) -> str:
    suffix = Path(name.split("?", 1)[0]).suffix.lower()
    found = _SUFFIXES.get(suffix)
    if found is None:
        raise TableUnavailable(
            f"{name} is neither Parquet nor CSV (by its name); monitored files must end in "
            ".parquet, .pq or .csv."
        )
    return found


def _tables(names: list[str]) -> list[str]:
    """The Parquet and CSV files among ``names`` (a folder or glob also matches ``_SUCCESS``…)."""
    return sorted(name for name in names if Path(name).suffix.lower() in _SUFFIXES)


def _local_files(spec: str) -> list[str]:
    path = Path(spec).expanduser()
    if path.is_dir():
        return _tables([str(p) for p in path.rglob("*") if p.is_file()])
    if path.is_file():
        return [str(path)]
    return _tables([name for name in glob.glob(str(path), recursive=True) if Path(name).is_file()])


def _remote_files(
    spec: str, storage_options: dict[str, Any] | None = None
) -> tuple[Any, list[str]]:
    """The filesystem and the files a URL names (listed afresh: new files must be seen)."""
    from fsspec.core import url_to_fs

    try:
        fs, path = url_to_fs(spec, **(storage_options or {}))
        fs.invalidate_cache()
        if glob.has_magic(path):
            return fs, _tables(fs.glob(path))
        if fs.isdir(path):
            return fs, _tables(fs.find(path))
        return fs, [path] if fs.exists(path) else []
    except Exception as exc:  # each fsspec backend raises its own (botocore's credentials…)
        raise TableUnavailable(f"the monitored table {spec!r} cannot be listed: {exc}") from None


def table_files(spec: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, list[str]]:
    """The Parquet and CSV files a path, folder, glob or URL names, sorted, and the fsspec
    filesystem that reads them (None for local files; ``storage_options`` for a URL's).

    Raises:
        TableUnavailable: a URL that cannot be listed.
    """
    if "://" in spec:
        return _remote_files(spec, storage_options)
    return None, _local_files(spec)


def _files(spec: str) -> tuple[Any, list[str]]:
    """The filesystem (None: local) and the Parquet and CSV files of a table spec.

    Raises:
        TableUnavailable: no file matches, or the files cannot be listed.
    """
    fs, names = table_files(spec)
    if not names:
        raise TableUnavailable(
            f"no files match the monitored table {spec!r}; check the path (a file, a folder "
            "or a glob of .parquet / .csv files)."
        )
    return fs, names


def _read_files(spec: str) -> pd.DataFrame:
    import pandas as pd

    fs, names = _files(spec)
    frames = []
    for name in names:
        reader = pd.read_parquet if _file_format(name) == "parquet" else pd.read_csv
        try:
            if fs is None:
                frames.append(reader(name))
            else:
                with fs.open(name, "rb") as stream:
                    frames.append(reader(stream))
        except Exception as exc:  # pandas, pyarrow and fsspec backends each raise their own
            raise TableUnavailable(f"{name} cannot be read as a table: {exc}") from None
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def timestamps(frame: pd.DataFrame, column: str) -> pd.Series:
    """The table's timestamp column as UTC times (naive values are taken as UTC).

    Raises:
        TableUnavailable: the column is missing or does not hold times.
    """
    import pandas as pd

    if column not in frame.columns:
        raise TableUnavailable(
            f"the monitored table has no timestamp column {column!r}; its columns are "
            f"{', '.join(map(str, frame.columns))}."
        )
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    if pd.api.types.is_numeric_dtype(values):
        raise TableUnavailable(
            f"column {column!r} holds numbers, not times; store timestamps (or ISO 8601 text "
            "such as 2026-03-01T08:00:00Z) so that seconds and milliseconds cannot be confused."
        )
    try:
        return pd.to_datetime(values, utc=True, format="ISO8601")
    except (TypeError, ValueError) as exc:
        raise TableUnavailable(f"column {column!r} does not hold ISO 8601 times: {exc}") from None


def between(
    frame: pd.DataFrame, column: str, start: datetime | None, end: datetime
) -> pd.DataFrame:
    """The rows whose timestamp is in ``[start, end)``, oldest first, times in ``timestamp``."""
    times = timestamps(frame, column)
    keep = times < end
    if start is not None:
        keep &= times >= start
    return frame.assign(timestamp=times)[keep].sort_values("timestamp", kind="stable")


def as_logged(frame: pd.DataFrame, monitor: Monitor) -> pd.DataFrame:
    """The table renamed into the prediction log's shape (see the module's doc)."""
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    label = label_column(monitor, columns)
    roles = {
        monitor.timestamp_column,
        monitor.prediction_column,
        monitor.probability_column,
        label,
        "timestamp",
        *_ROLE_COLUMNS,
    }
    features = [c for c in columns if c not in roles]
    renamed: dict[str, pd.Series] = {}
    if "timestamp" in frame.columns:
        renamed["timestamp"] = frame["timestamp"]
    for name in features:
        renamed[INPUT_PREFIX + name] = frame[name]
    if monitor.prediction_column in frame.columns:
        renamed["prediction"] = frame[monitor.prediction_column]
    if label is not None:
        renamed["label"] = frame[label]
    if monitor.probability_column and monitor.probability_column in frame.columns:
        renamed["probability"] = pd.to_numeric(frame[monitor.probability_column], errors="coerce")
    return pd.DataFrame(renamed).reset_index(drop=True)
