"""Logged models in the stores: their files in a run, a local cache, and re-verification.

A logged model is a folder of run artifacts (content-addressed blobs) sealed by
its ``steward-model.json``. ``materialize`` brings those files into a cache
folder under the workspace's home, keyed by the descriptor's digest. The cache
is written only through temporary files renamed into place, in folders that
are real folders: a symbolic link planted anywhere in it is replaced, never
written through. ``verify_stored`` re-reads every blob of a registered
version, as approving, aliasing and bundling it require.
"""

from __future__ import annotations

import functools
import hashlib
import io
import posixpath
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from steward.errors import IntegrityError, NotFound, UnverifiedContent
from steward.models.package import METADATA_FILE, ModelMetadata, file_sha256, verify_files
from steward.paths import make_folder

if TYPE_CHECKING:
    from steward.store.registry import ModelVersion
    from steward.workspace import Workspace

CACHE_DIR = ("cache", "models")


def cache_folder(workspace: Workspace, metadata_digest: str) -> Path:
    """Where the files of the model sealed by ``metadata_digest`` are cached."""
    safe = metadata_digest.replace(":", "-")
    return Path(workspace.settings.home).joinpath(*CACHE_DIR, safe)


def run_model_files(workspace: Workspace, run_id: str, path: str) -> dict[str, str]:
    """The artifacts of a run under ``path`` (relative to it), with their blob digests."""
    prefix = path.rstrip("/") + "/"
    return {
        item.path[len(prefix) :]: item.digest
        for item in workspace.tracking.list_artifacts(run_id)
        if item.path.startswith(prefix)
    }


def _cached(target: Path, sha256: str) -> bool:
    return not target.is_symlink() and target.is_file() and file_sha256(target) == sha256


@contextmanager
def _blob_of(name: str, where: str) -> Iterator[None]:
    """Name the model file when its blob is gone or changed."""
    try:
        yield
    except (IntegrityError, NotFound) as exc:
        raise IntegrityError(f"model file {name} of {where} does not verify: {exc}") from exc


def _replace(target: Path, write: Callable[[Path], object]) -> None:
    """Write ``target`` through ``write`` (which renames a temp file into place)."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    write(target)


def materialize(
    workspace: Workspace,
    run_id: str,
    path: str,
    metadata_digest: str | None,
    *,
    refetch: bool = False,
) -> tuple[Path, ModelMetadata]:
    """Bring a logged model's files into the local cache; return its folder and descriptor.

    Files already cached with the sealed content are kept unless ``refetch``;
    the caller verifies the folder (``verify_files``) before loading from it.

    Raises:
        NotFound: the run holds no model at ``path``, or a sealed file is not in the run.
        IntegrityError: a stored blob no longer matches its digest, or is gone.
        UnsafeModel: the descriptor names paths outside the model folder.
    """
    files = run_model_files(workspace, run_id, path)
    if metadata_digest is None:
        metadata_digest = files.get(METADATA_FILE)
        if metadata_digest is None:
            raise NotFound(f"run {run_id} holds no model at {path!r} ({METADATA_FILE} missing).")
    where = f"run {run_id} at {path!r}"
    with _blob_of(METADATA_FILE, where):
        raw = workspace.blobs.get_bytes(metadata_digest)
    metadata = ModelMetadata.from_json(raw)
    root = Path(workspace.settings.home)
    folder = cache_folder(workspace, metadata_digest)
    root.mkdir(parents=True, exist_ok=True)
    make_folder(str(root), folder.relative_to(root).as_posix(), replace=True)
    for name, expected in metadata.files.items():
        target = folder / name
        make_folder(str(folder), posixpath.dirname(name), replace=True)
        if not refetch and _cached(target, expected["sha256"]):
            continue
        blob = files.get(name)
        if blob is None:
            raise NotFound(f"model file {name} is missing from {where}.")
        with _blob_of(name, where):  # get_file renames a temp file: it replaces a link
            _replace(target, functools.partial(workspace.blobs.get_file, blob))
    metadata_file = folder / METADATA_FILE
    if not _cached(metadata_file, hashlib.sha256(raw).hexdigest()):
        from steward.blobs.digest import copy_verified

        write = functools.partial(
            copy_verified, io.BytesIO(raw), digest=metadata_digest, where=where
        )
        _replace(metadata_file, write)
    return folder, metadata


def verify_stored(
    workspace: Workspace, version: ModelVersion, action: str
) -> tuple[Path, ModelMetadata]:
    """Re-read every blob of a registered version and check it against the seal.

    Args:
        workspace: the stores.
        version: the version about to be approved, aliased or bundled.
        action: what is about to happen, for the message (``approve``, ``bundle``…).

    Returns:
        The verified cache folder of the version, and its descriptor.

    Raises:
        UnverifiedContent: a blob is gone or changed (an IntegrityError); the message
            names the model file.
        NotFound: the version points at no run.
    """
    label = f"{version.name} v{version.version}"
    if version.run_id is None:
        raise NotFound(f"{label} points at no run; there is nothing to {action}.")
    try:
        folder, metadata = materialize(
            workspace,
            version.run_id,
            version.artifact_path,
            version.metadata_digest,
            refetch=True,
        )
        verify_files(folder, metadata)
    except IntegrityError as exc:
        raise UnverifiedContent(
            f"cannot {action} {label}: its stored content no longer verifies: {exc} Nothing "
            "was changed; restore the blob (push/pull from a remote copy) or log the model "
            "again."
        ) from exc
    return folder, metadata
