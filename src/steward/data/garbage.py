"""Collecting garbage: deleting the blobs that nothing refers to.

Nothing Steward records is deleted by the operations that use it, but some
leave blobs behind that nothing refers to: an interrupted add or pull (its
blobs are kept so that running it again resumes), a failed log or monitor
run, a CSV that did not parse after its bytes were stored. ``gc`` deletes
them from the workspace's own blob store:

1. it lists every blob, with the time it was last written or reused;
2. it reads every reference of the metadata store (``steward.store.references``:
   dataset versions and their manifests, profiles, files and chunks; run
   artifacts, so every logged model's files; model versions; system info;
   monitor results and the summaries they name; prediction logs; and any
   digest written in any other text column), plus every blob named by a
   version record in the store's refs (pushed to it as a remote). This
   comes after the listing, so a version recorded meanwhile is seen;
3. it deletes the blobs neither referenced nor written or reused within the
   grace period, reading each one's time again as it goes: an add that
   reuses a blob meanwhile marks it (``steward.blobs.base``) and keeps it;
4. it removes the temporary files of writes interrupted before the grace
   period.

The grace period (default one hour; ``grace=`` or ``STEWARD_GC_GRACE``) must
be longer than the longest add, pull or log that may run at the same time
(plus the minute ``FRESHEN_AFTER`` allows): their blobs are not referenced
until they finish. A remote is another store with its own workspaces: gc
never touches it. gc assumes the blob store serves this workspace's
metadata store alone (two metadata stores sharing one blob store would each
collect the other's blobs).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from steward.blobs import BlobStore
from steward.blobs.base import BlobRef, StoredBlob
from steward.data.chunking import Progress, worker_count
from steward.errors import IntegrityError, InvalidInput, NotFound
from steward.store.references import DIGEST_PATTERN

if TYPE_CHECKING:
    from steward.workspace import Workspace

GRACE_ENV = "STEWARD_GC_GRACE"
DEFAULT_GRACE = timedelta(hours=1)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class GcResult:
    """What a collection found and did."""

    dry_run: bool
    grace_seconds: float
    blobs: int
    """Blobs in the store when it was listed."""
    referenced: int
    """Of those, blobs something refers to (kept)."""
    recent: int
    """Blobs nothing refers to yet, written or reused within the grace period (kept)."""
    collected: tuple[BlobRef, ...]
    """Blobs deleted (in a dry run: that would be deleted)."""
    bytes_freed: int
    """Their bytes (in a dry run: the bytes that would be freed)."""
    reused: int
    """Blobs that were to go but were reused while gc ran (kept)."""
    temporary_files: int
    """Leftovers of interrupted writes removed (in a dry run: none)."""
    temporary_bytes: int


def parse_grace(text: str | float | timedelta) -> timedelta:
    """A grace period from ``timedelta``, seconds, or text: ``"90"``, ``"30m"``, ``"1h"``, ``"2d"``.

    Raises:
        InvalidInput: not a duration, or negative.
    """
    if isinstance(text, timedelta):
        grace = text
    elif isinstance(text, int | float):
        grace = timedelta(seconds=text)
    else:
        match = _DURATION.match(text)
        if match is None:
            raise InvalidInput(
                f"grace period {text!r} is not understood; use seconds or a duration like "
                "'30m', '1h' or '2d'."
            )
        grace = timedelta(seconds=float(match[1]) * _SECONDS[match[2]])
    if grace < timedelta(0):
        raise InvalidInput(f"grace period {text!r} is negative; use 0 or more.")
    return grace


def _documents_named(blobs: BlobStore, digests: Iterable[str], strict: bool) -> set[str]:
    """The digests written in the documents ``digests`` (read in parallel).

    Args:
        strict: a document that cannot be read is an error (one the metadata
            store names); otherwise it is skipped (one a remote record names).

    Raises:
        IntegrityError: ``strict`` and a document is missing or damaged.
    """

    def named(digest: str) -> list[str]:
        try:
            return DIGEST_PATTERN.findall(blobs.get_bytes(digest).decode("utf-8", "replace"))
        except (NotFound, IntegrityError) as exc:
            if not strict:
                return []
            raise IntegrityError(
                f"gc cannot read {digest}, which names other blobs to keep ({exc}); nothing was "
                "deleted. Restore it (pull the dataset version again from a remote, or add its "
                "data again) and run gc again."
            ) from exc

    with ThreadPoolExecutor(max_workers=4 * worker_count()) as pool:
        return {found for digests_in in pool.map(named, sorted(digests)) for found in digests_in}


def _record_references(blobs: BlobStore) -> set[str]:
    """The blobs named by the version records in the store's refs, and what they name."""
    direct: set[str] = set()
    for key in blobs.list_refs():
        direct.update(DIGEST_PATTERN.findall(blobs.get_ref(key).decode("utf-8", "replace")))
    return direct | _documents_named(blobs, direct, strict=False)


def referenced_digests(workspace: Workspace) -> set[str]:
    """Every digest the workspace refers to (see the module): the blobs gc keeps.

    Raises:
        IntegrityError: a document the metadata store refers to (a manifest,
            a profile, a monitor result) is missing or damaged.
    """
    references = workspace.store.references.references()
    keep = set(references.digests)
    keep |= _documents_named(workspace.blobs, references.documents, strict=True)
    keep |= _record_references(workspace.blobs)
    return keep


def gc(
    grace: str | float | timedelta | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
) -> GcResult:
    """Delete the blobs of the workspace's blob store that nothing refers to.

    See the module for what counts as a reference, and for the grace period.

    Args:
        grace: keep blobs written or reused less than this long ago (an add,
            pull or log running meanwhile refers to them only once it ends):
            a ``timedelta``, seconds, or ``"30m"``, ``"1h"``, ``"2d"``.
            Default ``$STEWARD_GC_GRACE``, else one hour.
        dry_run: delete nothing; the result lists what would go.
        progress: called with byte counts as blobs are deleted (or looked at).
        total: called once, with the bytes to delete, before the first goes.

    Returns:
        What was found and deleted.

    Raises:
        InvalidInput: ``grace`` is not a duration.
        IntegrityError: a document the metadata store refers to (a manifest,
            a profile, a monitor result) is missing or damaged: nothing is deleted.
    """
    from steward.workspace import current_workspace

    workspace = current_workspace()
    if workspace.settings.remote:
        raise InvalidInput(
            f"blobs of the server {workspace.settings.store_url} are collected on the server: "
            "run `steward data gc` on its host, with its STEWARD_HOME."
        )
    if grace is None:
        grace = os.environ.get(GRACE_ENV) or DEFAULT_GRACE
    period = parse_grace(grace)
    blobs = workspace.blobs
    started = time.time()
    cutoff = started - period.total_seconds()
    listed: list[StoredBlob] = list(blobs.list_blobs())
    keep = referenced_digests(workspace)  # after the listing: see the module
    unreferenced = [blob for blob in listed if blob.digest not in keep]
    candidates = sorted(
        (blob for blob in unreferenced if blob.used_at < cutoff), key=lambda blob: blob.digest
    )
    if total is not None:
        total(sum(blob.size for blob in candidates))
    report = progress or (lambda _size: None)
    if dry_run:
        collected = [BlobRef(blob.digest, blob.size) for blob in candidates]
        for blob in candidates:
            report(blob.size)
        temporary = (0, 0)
    else:

        def delete(blob: StoredBlob) -> BlobRef | None:
            freed = blobs.delete_unused(blob.digest, cutoff)
            report(blob.size)
            return None if freed is None else BlobRef(blob.digest, freed)

        with ThreadPoolExecutor(max_workers=4 * worker_count()) as pool:
            deleted = list(pool.map(delete, candidates))
        collected = [blob for blob in deleted if blob is not None]
        temporary = blobs.remove_temporary(cutoff)
    return GcResult(
        dry_run=dry_run,
        grace_seconds=period.total_seconds(),
        blobs=len(listed),
        referenced=len(listed) - len(unreferenced),
        recent=len(unreferenced) - len(candidates),
        collected=tuple(collected),
        bytes_freed=sum(blob.size for blob in collected),
        reused=len(candidates) - len(collected),
        temporary_files=temporary[0],
        temporary_bytes=temporary[1],
    )
