"""Datasets: their versions, one version's profile and readers, and two versions diffed."""

from __future__ import annotations

import itertools
from typing import Any

from steward.auth import Role
from steward.errors import InvalidInput
from steward.server.ui import charts
from steward.server.ui.pages import Context, Page

HISTOGRAMS = 12


def datasets(context: Context) -> Page:
    """Every dataset with its latest version."""
    found = context.workspace.store.datasets.list_datasets()
    return Page("datasets.html", "Datasets", {"datasets": found})


def dataset(context: Context) -> Page:
    """The versions of one dataset, with a form to diff two of them."""
    store = context.workspace.store.datasets
    found = store.get_dataset(context.path("name"))
    versions = store.list_versions(found.name)
    return Page("dataset.html", f"Dataset {found.name}", {"dataset": found, "versions": versions})


def _histogram(column: Any) -> dict[str, Any] | None:
    if column.kind == "numeric":
        histogram = column.histogram()
        if not histogram:
            return None
        edges = histogram["edges"]
        centres = [(low + high) / 2 for low, high in itertools.pairwise(edges)]
        trace = charts.bars(column.name, centres, histogram["counts"])
    elif column.kind == "categorical" and column.top:
        values, counts = zip(*column.top_values(15), strict=True)
        trace = charts.bars(column.name, values, counts)
    else:
        return None
    return charts.figure([trace], column.name, column.name, "rows")


def version(context: Context) -> Page:
    """One version: files, schema and profile with histograms, and the runs that read it.

    Raises:
        InvalidInput: the version is not a number or an alias.
    """
    from steward.data.versions import resolve

    found = resolve(context.path("name"), context.path("version"))
    profile = found.profile()
    columns = list(profile.columns) if profile else []
    figures = [f for f in map(_histogram, columns[:HISTOGRAMS]) if f is not None]
    values = {
        "version": found,
        "profile": profile,
        "columns": columns,
        "figures": figures,
        "lineage": context.workspace.store.datasets.lineage_of_version(found.id),
        "checks": context.workspace.store.governance.check_runs(
            dataset_version_id=found.id, limit=5
        ),
        "files": found.files[:200],
    }
    return Page("dataset_version.html", f"Dataset {found.ref}", values)


def diff(context: Context) -> Page:
    """What changed between two versions of a dataset (files, schema, statistics, rows).

    Raises:
        InvalidInput: a version missing from the query.
    """
    from steward.data.diff import diff as diff_versions

    name = context.path("name")
    before, after = context.query.get("a", "").strip(), context.query.get("b", "").strip()
    if not before or not after:
        raise InvalidInput("choose two versions to compare (a and b).")
    found = diff_versions(f"{name}:{before}", f"{name}:{after}")
    return Page("dataset_diff.html", f"{name}: {before} → {after}", {"diff": found, "name": name})


PAGES = (
    ("/datasets", datasets, Role.VIEWER),
    ("/datasets/{name}", dataset, Role.VIEWER),
    ("/datasets/{name}/diff", diff, Role.VIEWER),
    ("/datasets/{name}/{version}", version, Role.VIEWER),
)
