"""Pushing versions to and pulling them from another blob store (a remote).

Only blobs the other side lacks are sent. Every blob is written atomically
and is content-addressed, so an interrupted transfer is resumed by running
it again: what arrived is skipped, the rest is sent. Data blobs go first and
the manifest last, so a manifest on a remote means its data is there too.
Pull needs the version's metadata in this workspace (a shared metadata
store, or the same one that pushed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from steward.blobs import BlobStore, BlobWriter, open_blob_store
from steward.data.chunking import Progress, in_groups, worker_count
from steward.data.manifest import Manifest
from steward.data.versions import DatasetVersion, _workspace, resolve


@dataclass(frozen=True)
class TransferResult:
    """What a push or pull moved."""

    version: str
    blobs_sent: int
    bytes_sent: int
    blobs_present: int


def _version_blobs(version: DatasetVersion, manifest: Manifest) -> list[str]:
    digests = manifest.blob_digests()
    if version.profile_digest:
        digests.append(version.profile_digest)
    digests.append(version.digest)
    return digests


TRANSFER_GROUP = 1024
"""Blobs per durable publish when pushing or pulling."""


def _transfer(
    source: BlobStore,
    target: BlobStore,
    version: DatasetVersion,
    manifest: Manifest,
    progress: Progress | None,
) -> TransferResult:
    wanted = _version_blobs(version, manifest)
    missing = target.missing(wanted)
    report: Callable[[int], None] = progress or (lambda _bytes: None)

    def copy(sink: BlobWriter, digests: Sequence[str]) -> list[int]:
        sizes = []
        for digest in digests:
            size = sink.put_copy(source, digest).size  # streamed, verified as it is copied
            report(size)
            sizes.append(size)
        return sizes

    data_blobs = [d for d in missing if d != version.digest]
    sizes: list[int] = []
    # Published in groups: one durable publish per group, and an interrupted
    # transfer keeps every finished group, so running it again resumes. A group
    # is published (waiting on the disk) in the background while the next one is
    # copied; groups are published in order, and all before the manifest.
    with (
        ThreadPoolExecutor(max_workers=2 * worker_count()) as pool,
        ThreadPoolExecutor(max_workers=1) as publisher,
    ):
        publishing: Future[None] | None = None
        for group in in_groups(data_blobs, TRANSFER_GROUP):
            with ExitStack() as stack:
                sink = stack.enter_context(target.batch())
                tasks = in_groups(group, -(-len(group) // (4 * worker_count())))
                futures = [pool.submit(copy, sink, task) for task in tasks]
                # Every copy finishes (or fails) before the batch publishes, so a
                # failure leaves no write half-way into a batch already closed.
                wait(futures)
                publish = stack.pop_all()
            if publishing is not None:
                publishing.result()
            publishing = publisher.submit(publish.close)
            for future in futures:
                sizes += future.result()
        if publishing is not None:
            publishing.result()
    if version.digest in missing:
        sizes += copy(target, [version.digest])
    return TransferResult(version.ref, len(sizes), sum(sizes), len(wanted) - len(missing))


def _open_remote(url: str, storage_options: dict[str, Any] | None) -> BlobStore:
    return open_blob_store(url, storage_options=storage_options)


def push(
    version: DatasetVersion | str,
    to: str,
    storage_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> TransferResult:
    """Send a version's blobs that ``to`` lacks.

    Args:
        version: a DatasetVersion or ``"name[:version]"``.
        to: the remote blob store URL (a folder or e.g. ``s3://bucket/prefix``).
        storage_options: fsspec options of the remote (credentials, endpoint).
        progress: called with byte counts as blobs are sent.
    """
    found = resolve(version)
    local = _workspace().blobs
    return _transfer(local, _open_remote(to, storage_options), found, found.manifest(), progress)


def pull(
    version: DatasetVersion | str,
    from_: str,
    storage_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> TransferResult:
    """Fetch a version's blobs that this workspace lacks from the remote ``from_``."""
    found = resolve(version)
    local = _workspace().blobs
    remote = _open_remote(from_, storage_options)
    source_of_manifest = local if local.exists(found.digest) else remote
    manifest = Manifest.from_bytes(source_of_manifest.get_bytes(found.digest), found.digest)
    return _transfer(remote, local, found, manifest, progress)
