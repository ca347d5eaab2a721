"""Pushing versions to and pulling them from another blob store (a remote).

Only blobs the other side lacks are sent. Every blob is written atomically
and is content-addressed, so an interrupted transfer is resumed by running
it again: what arrived is skipped, the rest is sent. Data blobs go first,
then the manifest, and last the version's record (see
``steward.data.version_record``), so a record on a remote means the version
is complete there.

A remote describes itself: pull registers a version this workspace has never
seen under the number, author, time, description and tags it has on the
remote, so a second laptop or an offline site with its own ``STEWARD_HOME``
(its own metadata store) pulls by name. Lineage (which runs read or produced
a version) and aliases are not transferred.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any

from steward.blobs import BlobStore, BlobWriter, open_blob_store
from steward.data.chunking import Progress, in_groups, worker_count
from steward.data.manifest import Manifest
from steward.data.version_record import (
    RemoteVersion,
    conflicting_versions,
    find_remote_version,
    read_remote_version,
    remote_numbers,
    write_remote_version,
)
from steward.data.versions import DatasetVersion, _workspace, parse_ref, resolve
from steward.errors import Conflict, NotFound, TransferFailed


@dataclass(frozen=True)
class TransferResult:
    """What a push or pull moved."""

    version: str
    blobs_sent: int
    bytes_sent: int
    blobs_present: int
    registered: bool = False
    """Pull only: the version was new to this workspace and is now registered."""


def _version_blobs(version: RemoteVersion, manifest: Manifest) -> list[str]:
    digests = manifest.blob_digests()
    if version.content.profile_digest:
        digests.append(version.content.profile_digest)
    digests.append(version.digest)
    return digests


TRANSFER_GROUP = 1024
"""Blobs per durable publish when pushing or pulling."""


def _transfer(
    source: BlobStore,
    target: BlobStore,
    version: RemoteVersion,
    manifest: Manifest,
    progress: Progress | None,
    total: Callable[[int], None] | None,
    touch: bool = False,
) -> TransferResult:
    """Copy the version's blobs that ``target`` lacks; ``touch``: mark those it has as used."""
    wanted = _version_blobs(version, manifest)
    missing = target.missing(wanted, touch=touch)
    if total is not None:
        known = manifest.blob_sizes()  # the profile's and manifest's sizes are asked for
        total(sum(known[digest] if digest in known else source.size(digest) for digest in missing))
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


def _open_remote(url: str, storage_options: dict[str, Any] | None, create: bool) -> BlobStore:
    """The remote at ``url``; ``create``: one that does not exist yet is made (push)."""
    return open_blob_store(url, storage_options=storage_options, create=create)


@contextmanager
def _remote_errors(url: str) -> Iterator[None]:
    """Turn the errors of a storage backend or a disk (OSError, botocore's) into a clear one."""
    backend_errors: tuple[type[BaseException], ...] = (OSError,)
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        backend_errors += (BotoCoreError, ClientError)
    except ImportError:  # no S3 support installed
        pass
    try:
        yield
    except backend_errors as exc:
        raise TransferFailed(
            f"the transfer with {url} failed: {type(exc).__name__}: {exc}. If the remote is at "
            "fault, check its address, credentials and network (STEWARD_REMOTE_OPTIONS for the "
            "CLI); if this machine's disk is, free space or fix it. Then run the command again: "
            "what arrived is kept."
        ) from exc


def push(
    version: DatasetVersion | str,
    to: str,
    storage_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
) -> TransferResult:
    """Send a version's blobs that ``to`` lacks, then its record (rewritten identically).

    Args:
        version: a DatasetVersion or ``"name[:version]"``.
        to: the remote blob store URL (a folder or e.g. ``s3://bucket/prefix``).
        storage_options: fsspec options of the remote (credentials, endpoint).
        progress: called with byte counts as blobs are sent.
        total: called once, before anything is sent, with the bytes there are to send.

    Raises:
        NotFound: this workspace has no such version.
        Conflict: the remote holds another version under the same name and number
            (pushed from another workspace); nothing is sent.
    """
    found = resolve(version)
    manifest = found.manifest()
    record = RemoteVersion.of(found, manifest.kind)
    with _remote_errors(to):
        remote = _open_remote(to, storage_options, create=True)
        there = find_remote_version(remote, found.name, found.version)
        if there is not None and there.digest != found.digest:
            raise conflicting_versions(remote, record, there.digest)
        result = _transfer(_workspace().blobs, remote, record, manifest, progress, total)
        write_remote_version(remote, record)
    return result


def pull(
    version: DatasetVersion | str,
    from_: str,
    storage_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
) -> TransferResult:
    """Fetch a version's blobs that this workspace lacks, registering the version if new here.

    A version this workspace does not know is read from the remote's record
    and registered under the same number, with its author, time, description
    and tags. Lineage (the runs that read or produced it) is not transferred.

    Args:
        version: ``"name"`` (the remote's latest; this workspace's latest if
            the remote has no records of it), ``"name:3"``, ``"name:alias"``
            (aliases this workspace knows: remotes keep none), or a
            DatasetVersion (its name and number).
        from_: the remote blob store URL (a folder or e.g. ``s3://bucket/prefix``).
        storage_options: fsspec options of the remote (credentials, endpoint).
        progress: called with byte counts as blobs are fetched.
        total: called once, before anything is fetched, with the bytes there are to fetch.

    Returns:
        What was fetched; ``registered`` says whether the version is new here.

    Raises:
        NotFound: neither this workspace nor the remote has the version.
        Conflict: this workspace holds another version under that name and
            number, that content under another number, or the dataset as
            another kind; nothing is changed.
        IntegrityError: a blob or record on the remote is damaged (names it).
    """
    with _remote_errors(from_):
        return _pull(version, _open_remote(from_, storage_options, create=False), progress, total)


def _pull(
    version: DatasetVersion | str,
    remote: BlobStore,
    progress: Progress | None,
    total: Callable[[int], None] | None,
) -> TransferResult:
    workspace = _workspace()
    datasets = workspace.store.datasets
    version = _remote_latest(remote, version)
    local = _find_local(version)
    if local is None:
        record = read_remote_version(remote, *_remote_target(remote, version))
    else:
        # A version pushed by an older Steward has no record; this workspace's serves.
        record = find_remote_version(remote, local.name, local.version) or RemoteVersion.of(
            local, datasets.get_dataset(local.name).kind
        )
    with _explained(record, remote.url):
        held = datasets.check_import(record.name, record.kind, record.version, record.digest)
    blobs = workspace.blobs

    def read(digest: str) -> bytes:  # verified against its digest by either store
        return (blobs if blobs.exists(digest) else remote).get_bytes(digest)

    # Checked before anything is fetched: every path in the manifest (as it is
    # parsed), and the record's counts against the manifest and profile.
    manifest = Manifest.from_bytes(read(record.digest), record.digest)
    profile_digest = record.content.profile_digest
    record.check_content(manifest, None if profile_digest is None else read(profile_digest))
    # The blobs already here are marked as used: a collection running meanwhile keeps them.
    result = _transfer(remote, blobs, record, manifest, progress, total, touch=True)
    if held is not None:
        return result
    with _explained(record, remote.url):
        _, registered = datasets.import_version(
            record.name,
            record.kind,
            record.version,
            record.content,
            record.created_by,
            record.created_at,
            workspace.actor,
            record.description,
            record.tags,
        )
    return replace(result, registered=registered)


def _remote_latest(remote: BlobStore, version: DatasetVersion | str) -> DatasetVersion | str:
    """``"name"`` or ``"name:latest"`` as the remote's highest version of ``name``.

    What a site that syncs daily wants; unchanged if the remote holds no
    records of ``name`` (pushed by an older Steward) or a version was named.
    """
    if isinstance(version, DatasetVersion):
        return version
    name, selector = parse_ref(version)
    if selector not in (None, "latest"):
        return version
    numbers = remote_numbers(remote, name)
    return f"{name}:{numbers[-1]}" if numbers else version


def _find_local(version: DatasetVersion | str) -> DatasetVersion | None:
    """The version as this workspace knows it, or None."""
    try:
        if isinstance(version, DatasetVersion):
            return resolve(version.name, version.version)
        return resolve(version)
    except NotFound:
        return None


def _remote_target(remote: BlobStore, version: DatasetVersion | str) -> tuple[str, int | None]:
    """The name and number (None: the highest) to read from the remote's records."""
    if isinstance(version, DatasetVersion):
        return version.name, version.version
    name, selector = parse_ref(version)
    if selector is None or selector == "latest":
        return name, None
    if selector.isdigit():
        return name, int(selector)
    if remote_numbers(remote, version):  # a name with a colon in it, as ``resolve`` allows
        return version, None
    raise NotFound(
        f"this workspace has no {version!r}, and remotes keep no aliases: pull {name}:<number> "
        f"or {name} from {remote.url}."
    )


@contextmanager
def _explained(record: RemoteVersion, url: str) -> Iterator[None]:
    """Say which pull a conflict stopped."""
    try:
        yield
    except Conflict as exc:
        raise Conflict(f"cannot pull {record.ref} from {url}: {exc}") from exc
