"""Dataset versioning: content-addressed versions of files and tables, with
profiles, diffs, lineage to runs, and remotes.

``steward.data.add(name, source)`` stores a version; ``get`` finds one,
``diff`` compares two, ``use`` records that a run read one, ``push`` and
``pull`` move versions between workspaces through a remote blob store (one
that describes its versions, so pull works into a workspace new to them);
``gc`` deletes the blobs of the workspace's store that nothing refers to.
"""

from __future__ import annotations

from steward.data.diff import DatasetDiff, TableDiff, diff
from steward.data.garbage import GcResult, gc
from steward.data.profile import ColumnProfile, TableProfile, merge_profiles
from steward.data.remote import TransferResult, pull, push
from steward.data.versions import (
    DatasetVersion,
    add,
    get,
    lineage,
    list_datasets,
    log,
    run_lineage,
    set_alias,
    use,
)

__all__ = [
    "ColumnProfile",
    "DatasetDiff",
    "DatasetVersion",
    "GcResult",
    "TableDiff",
    "TableProfile",
    "TransferResult",
    "add",
    "diff",
    "gc",
    "get",
    "lineage",
    "list_datasets",
    "log",
    "merge_profiles",
    "pull",
    "push",
    "run_lineage",
    "set_alias",
    "use",
]
