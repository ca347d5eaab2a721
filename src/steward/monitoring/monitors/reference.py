"""Drift references from dataset versions: their stored profiles, or their tables.

The profile is used where it describes a column (``statistics.profile``); the
rest is read from the version's table, and the notes say which was used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.monitoring.statistics.profile import summary_from_profile
from steward.monitoring.statistics.summary import DatasetSummary, summarize

if TYPE_CHECKING:
    from steward.data.versions import DatasetVersion


@dataclass(frozen=True)
class DatasetReference:
    """A reference built from a dataset version."""

    summary: DatasetSummary
    description: str
    notes: tuple[str, ...]
    from_profile: bool
    frame: Any = None
    """The version's table, when it had to be read."""


def dataset_reference(
    version: DatasetVersion, columns: Sequence[str], use_profile: bool = True
) -> DatasetReference:
    """The reference summary of ``columns`` of a dataset version.

    The stored profile is used where it describes a column; the rest (or all,
    with ``use_profile=False`` or no profile) comes from reading the table.
    """
    notes: list[str] = []
    profile = version.profile() if use_profile else None
    if profile is not None:
        summary, lacking = summary_from_profile(profile, columns)
        if not lacking:
            return DatasetReference(
                summary,
                f"dataset {version.ref} (stored profile)",
                (
                    f"reference: the stored profile of dataset {version.ref}; numeric values "
                    "come from its quantile sketch (within 1% of the true values)",
                ),
                True,
            )
        notes.append(
            f"the profile of dataset {version.ref} lacks {', '.join(lacking)}: "
            "read the version's table for the reference instead"
        )
    elif use_profile:
        notes.append(f"dataset {version.ref} has no profile: read its table for the reference")
    frame = version.to_pandas()
    present = [name for name in columns if name in frame.columns]
    summary = summarize(frame[present])
    notes.append(f"reference: the table of dataset {version.ref} ({len(frame)} rows)")
    return DatasetReference(summary, f"dataset {version.ref} (table)", tuple(notes), False, frame)
