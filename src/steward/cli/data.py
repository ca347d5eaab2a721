"""``steward data …``: add, list, show, diff, check out, push and pull dataset versions."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_note, print_table

app = typer.Typer(help="Version datasets: files, folders and tables.", no_args_is_help=True)

REMOTE_OPTIONS_ENV = "STEWARD_REMOTE_OPTIONS"


class _Bar:
    """A progress bar's callbacks: called with bytes done; ``total`` sets the bytes to do."""

    def __init__(self, advance: Callable[[int], None], total: Callable[[int], None]) -> None:
        self._advance = advance
        self.total = total

    def __call__(self, size: int) -> None:
        self._advance(size)


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[_Bar]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield _Bar(
            lambda size: progress.advance(task, size),
            lambda size: progress.update(task, total=size),
        )


def _remote_options() -> dict[str, Any] | None:
    raw = os.environ.get(REMOTE_OPTIONS_ENV)
    if not raw:
        return None
    from steward.errors import InvalidInput

    try:
        options = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{REMOTE_OPTIONS_ENV} must be a JSON object: {exc}") from exc
    return dict(options)


def _version_row(version: Any) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "digest": version.digest,
        "size": version.size,
        "files": version.file_count,
        "rows": version.rows,
        "columns": version.columns,
        "aliases": list(version.aliases),
        "tags": version.tags,
        "created_by": version.created_by,
        "created_at": version.created_at,
        "description": version.description,
    }


def _print_version(version: Any) -> None:
    console.print(
        f"[bold]{version.ref}[/bold]  {version.digest[:23]}…  {version.size:,} bytes, "
        f"{version.file_count} files"
        + (
            f", {version.rows:,} rows x {version.columns} columns"
            if version.rows is not None
            else ""
        )
    )


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Dataset name."),
    source: str = typer.Argument(..., help="A file, a folder or a quoted glob."),
    description: str | None = typer.Option(None, "--description", "-d"),
    tag: list[str] = typer.Option([], "--tag", "-t", help="KEY=VALUE; repeatable."),
    follow_links: bool = typer.Option(
        False,
        "--follow-links",
        help="Store what links pointing outside the folder point to (refused by default; "
        "links pointing inside are always stored as what they point to).",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Add a version of a dataset (identical content returns the existing version)."""
    import steward.data
    from steward.errors import InvalidInput

    tags = {}
    for item in tag:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"--tag {item!r} must be KEY=VALUE.")
        tags[key] = value
    with _progress("hashing", None) as bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        version = steward.data.add(
            name, source, description, tags, bar, bar.total, follow_links=follow_links
        )
    for warning in caught:
        print_note(str(warning.message))
    if as_json:
        print_json(_version_row(version))
        return
    _print_version(version)


@app.command("list")
def list_datasets(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List datasets."""
    import steward.data

    datasets = steward.data.list_datasets()
    if as_json:
        print_json([asdict(dataset) for dataset in datasets])
        return
    print_table(
        "Datasets",
        ["name", "kind", "versions", "latest", "created by", "created at"],
        [
            [d.name, d.kind, d.version_count, d.latest_version, d.created_by, d.created_at]
            for d in datasets
        ],
    )


@app.command("alias")
def alias(
    name: str = typer.Argument(..., help="Dataset name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="e.g. training, validated."),
    version: int = typer.Argument(..., help="The version the alias should point at."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Point an alias at a version (then NAME:ALIAS names that version)."""
    import steward.data

    found = steward.data.set_alias(name, alias_name, version)
    if as_json:
        print_json(_version_row(found))
        return
    console.print(f"{name}:{alias_name} → {found.ref}")


@app.command("log")
def log(
    name: str = typer.Argument(..., help="Dataset name."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the versions of a dataset, newest first, with the runs that used them."""
    import steward.data

    versions = steward.data.log(name)
    lineage = {version.id: version.lineage() for version in versions}
    if as_json:
        print_json(
            [
                {
                    **_version_row(version),
                    "lineage": [asdict(edge) for edge in lineage[version.id]],
                }
                for version in versions
            ]
        )
        return
    print_table(
        f"Dataset '{name}'",
        ["version", "digest", "size", "files", "rows", "aliases", "read by", "made by", "created"],
        [
            [
                v.version,
                v.digest[7:19],
                v.size,
                v.file_count,
                v.rows,
                ",".join(v.aliases),
                len([e for e in lineage[v.id] if e.direction == "input"]),
                ",".join(e.run_name for e in lineage[v.id] if e.direction == "output"),
                v.created_at,
            ]
            for v in versions
        ],
    )


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME, NAME:VERSION or NAME:ALIAS."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a version: files, profile and lineage."""
    from steward.data.versions import resolve

    version = resolve(ref)
    profile = version.profile()
    edges = version.lineage()
    if as_json:
        print_json(
            {
                **_version_row(version),
                "files": version.files,
                "schema": profile.schema if profile else None,
                "profile": [c.summary() for c in profile.columns] if profile else None,
                "lineage": [asdict(edge) for edge in edges],
            }
        )
        return
    _print_version(version)
    if profile is not None:
        rows = []
        for column in profile.columns:
            summary = column.summary()
            top = ", ".join(f"{v}:{n}" for v, n in summary.get("top", [])[:3])
            rows.append(
                [
                    column.name,
                    column.dtype,
                    column.count,
                    column.nulls,
                    column.distinct,
                    summary.get("min"),
                    summary.get("max"),
                    summary.get("mean"),
                    summary.get("std"),
                    top or None,
                ]
            )
        print_table(
            "Profile",
            ["column", "dtype", "count", "nulls", "distinct", "min", "max", "mean", "std", "top"],
            rows,
        )
    if edges:
        print_table(
            "Lineage",
            ["run", "run id", "direction", "when"],
            [[e.run_name, e.run_id[:12], e.direction, e.created_at] for e in edges],
        )


@app.command("diff")
def diff(
    a: str = typer.Argument(..., help="Earlier version (NAME:VERSION)."),
    b: str = typer.Argument(..., help="Later version (NAME:VERSION)."),
    key: list[str] = typer.Option([], "--key", "-k", help="Key column(s) to match rows."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Compare two versions: files, rows, schema and statistics."""
    import steward.data

    result = steward.data.diff(a, b, key=key or None)
    if as_json:
        print_json(asdict(result))
        return
    console.print(f"[bold]{result.a} → {result.b}[/bold]")
    for label, paths in (("added", result.added), ("removed", result.removed)):
        for path in paths:
            console.print(f"  {label:8} {path}")
    for path in result.changed:
        console.print(f"  changed  {path}")
    console.print(f"  {result.unchanged} files unchanged")
    for table in result.tables:
        console.print(
            f"[bold]{table.path}[/bold]: {table.rows_before:,} → {table.rows_after:,} rows"
            + (
                f" (+{table.rows_added:,} / -{table.rows_removed:,})"
                if table.rows_added is not None
                else ""
            )
        )
        for column in table.columns_added:
            console.print(f"  column added: {column}")
        for column in table.columns_removed:
            console.print(f"  column removed: {column}")
        for column, (old, new) in table.type_changes.items():
            console.print(f"  column {column}: {old} → {new}")
        rows = [
            [column, stat, old, new]
            for column, shifts in table.statistic_shifts.items()
            for stat, (old, new) in shifts.items()
        ]
        if rows:
            print_table(None, ["column", "statistic", "before", "after"], rows)


@app.command("checkout")
def checkout(
    ref: str = typer.Argument(..., help="NAME, NAME:VERSION or NAME:ALIAS."),
    path: str = typer.Argument(..., help="An empty (or new) folder."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty folder."),
    link: str = typer.Option(
        "copy",
        "--link",
        help="copy (independent files) or hardlink (faster, read-only files that share "
        "the local blob store's storage: replace them, never edit them in place).",
    ),
) -> None:
    """Write a version's files into a folder, verified against their digests."""
    from steward.data.versions import resolve

    version = resolve(ref)
    with _progress("checking out", version.size) as report:
        target = version.checkout(path, force=force, progress=report, link=link)
    console.print(f"{version.ref}: {version.file_count} files written to {target}")


@app.command("push")
def push(
    ref: str = typer.Argument(..., help="NAME, NAME:VERSION or NAME:ALIAS."),
    to: str = typer.Option(..., "--to", help="Remote blob store URL (folder or s3://…)."),
) -> None:
    """Send a version's missing blobs and its record to a remote (run again to resume)."""
    import steward.data

    with _progress("pushing", None) as bar:
        result = steward.data.push(ref, to, _remote_options(), progress=bar, total=bar.total)
    console.print(
        f"{result.version}: sent {result.blobs_sent} blobs ({result.bytes_sent:,} bytes), "
        f"{result.blobs_present} already there"
    )


@app.command("pull")
def pull(
    ref: str = typer.Argument(
        ..., help="NAME (the remote's latest), NAME:VERSION or NAME:ALIAS (local)."
    ),
    from_: str = typer.Option(..., "--from", help="Remote blob store URL (folder or s3://…)."),
) -> None:
    """Fetch a version's missing blobs from a remote, registering it if new here.

    Works in a workspace that has never seen the dataset: the version keeps its
    number, author, time, description and tags (not its lineage). Run again to resume.
    """
    import steward.data
    from steward.data.versions import resolve

    with _progress("pulling", None) as bar:
        result = steward.data.pull(ref, from_, _remote_options(), progress=bar, total=bar.total)
    console.print(
        f"{result.version}: fetched {result.blobs_sent} blobs ({result.bytes_sent:,} bytes), "
        f"{result.blobs_present} already here"
    )
    if result.registered:
        console.print("registered in this workspace:")
        _print_version(resolve(result.version))


@app.command("gc")
def gc(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Delete nothing: list what would go and the bytes freed."
    ),
    grace: str | None = typer.Option(
        None,
        "--grace",
        help="Keep blobs written or reused less than this long ago, e.g. 30m, 1h, 2d "
        "(default: $STEWARD_GC_GRACE, else 1h). Longer than any add, pull or log running "
        "meanwhile.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete the blobs of this workspace's blob store that nothing refers to.

    Kept: every blob a dataset version, run, model version, monitor result or
    prediction log refers to, and every blob written or reused within the grace
    period. Remotes are never touched.
    """
    import steward.data

    with _progress("checking" if dry_run else "deleting", None) as bar:
        result = steward.data.gc(grace, dry_run=dry_run, progress=bar, total=bar.total)
    if as_json:
        print_json(asdict(result))
        return
    verb = "would delete" if dry_run else "deleted"
    if dry_run and result.collected:
        print_table(
            "Blobs nothing refers to",
            ["digest", "bytes"],
            [[blob.digest, blob.size] for blob in result.collected],
        )
    console.print(
        f"{verb} {len(result.collected)} blobs ({result.bytes_freed:,} bytes) of {result.blobs}; "
        f"kept {result.referenced} referenced and {result.recent + result.reused} used within "
        f"the grace period ({result.grace_seconds:g} s)"
        + (
            f"; removed {result.temporary_files} temporary files ({result.temporary_bytes:,} bytes)"
            if result.temporary_files
            else ""
        )
    )
