"""A dataset version as a remote describes it: the record beside its blobs.

Push writes one record per version, a ref (see ``BlobStore.put_ref``) under
``datasets/<name>/<number>.json`` (the name percent-encoded, so it is one
path segment), after the version's blobs and manifest: a record on a remote
means the version is complete there. A workspace that has never seen the
dataset reads the record to register the version under the same number,
with its author, time, description and tags. Lineage (which runs read or
produced a version) and aliases stay in the workspace that recorded them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from steward.blobs import BlobStore, parse_digest
from steward.data.manifest import Manifest
from steward.data.profiling import read_profiles
from steward.data.sources import TABLE_FILE_NAME
from steward.data.versions import DatasetVersion
from steward.errors import Conflict, IntegrityError, NotFound
from steward.store.datasets import NewDatasetVersion
from steward.store.validation import NAME_LENGTH, check_name, check_tag_value

RECORD_FORMAT = 1
KINDS = ("files", "table")


@dataclass(frozen=True)
class RemoteVersion:
    """What a remote says about one version it holds: enough to register it elsewhere."""

    name: str
    version: int
    kind: str
    content: NewDatasetVersion
    created_by: str
    created_at: datetime
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, version: DatasetVersion, kind: str) -> RemoteVersion:
        """The record of a version of this workspace; ``kind`` is its dataset's kind."""
        return cls(
            name=version.name,
            version=version.version,
            kind=kind,
            content=NewDatasetVersion(
                digest=version.digest,
                profile_digest=version.profile_digest,
                size=version.size,
                file_count=version.file_count,
                row_count=version.rows,
                column_count=version.columns,
            ),
            created_by=version.created_by,
            created_at=version.created_at,
            description=version.description,
            tags=dict(version.tags),
        )

    @property
    def ref(self) -> str:
        """``name:version``, as the CLI writes it."""
        return f"{self.name}:{self.version}"

    @property
    def digest(self) -> str:
        """The digest of the version's manifest: the identity of its content."""
        return self.content.digest

    def to_bytes(self) -> bytes:
        """Canonical JSON: the same version always gives the same bytes."""
        data = {
            "format": RECORD_FORMAT,
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            **asdict(self.content),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "description": self.description,
            "tags": self.tags,
        }
        return json.dumps(data, sort_keys=True, indent=1).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> RemoteVersion:
        """Parse a record; ``where`` names it in errors.

        Raises:
            IntegrityError: the bytes are not a record this Steward can read.
        """
        try:
            parsed = json.loads(data)
            if parsed.get("format") != RECORD_FORMAT:
                raise ValueError(
                    f"unknown record format {parsed.get('format')!r} (a newer Steward may read it)"
                )
            created_at = datetime.fromisoformat(_text(parsed, "created_at"))
            if created_at.tzinfo is None:
                raise ValueError("created_at has no time zone")
            record = cls(
                name=check_name("dataset", _text(parsed, "name")),
                version=_count(parsed, "version"),
                kind=_text(parsed, "kind"),
                content=NewDatasetVersion(
                    digest=_text(parsed, "digest"),
                    profile_digest=_text(parsed, "profile_digest", optional=True),
                    size=_count(parsed, "size"),
                    file_count=_count(parsed, "file_count"),
                    row_count=_count(parsed, "row_count", optional=True),
                    column_count=_count(parsed, "column_count", optional=True),
                ),
                created_by=_text(parsed, "created_by"),
                created_at=created_at,
                description=_text(parsed, "description", optional=True),
                tags={
                    check_name("tag", key): check_tag_value(key, _text(parsed["tags"], key))
                    for key in parsed["tags"]
                },
            )
            if record.kind not in KINDS:
                raise ValueError(f"unknown dataset kind {record.kind!r}")
            if record.version < 1:
                raise ValueError(f"version number {record.version} is not positive")
            if not 0 < len(record.created_by) <= NAME_LENGTH:
                raise ValueError(f"author must be 1-{NAME_LENGTH} characters")
            for digest in (record.digest, record.content.profile_digest):
                if digest is not None:
                    parse_digest(digest)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IntegrityError(f"the version record {where} is not readable: {exc}") from exc
        return record

    def check_content(self, manifest: Manifest, profile: bytes | None) -> None:
        """Raise unless the version's manifest and profile are what this record says.

        A remote is not trusted: the manifest's paths are checked as it is
        parsed; here its kind, file count and size, and the profile's tables,
        rows and columns must agree with the record, so what gets registered
        describes the data that arrives.

        Args:
            manifest: the version's manifest (digest verified).
            profile: the bytes of its profile blob (digest verified), if it has one.

        Raises:
            IntegrityError: names the first disagreement.
        """
        content = self.content
        found = (manifest.kind, len(manifest.files), manifest.size)
        said = (self.kind, content.file_count, content.size)
        if found != said:
            raise IntegrityError(
                f"the manifest of {self.ref} holds (kind, files, bytes) {found}, its record says "
                f"{said}: the remote is damaged or not to be trusted."
            )
        if self.kind == "table" and [entry.path for entry in manifest] != [TABLE_FILE_NAME]:
            raise IntegrityError(f"the table {self.ref} must hold one file, {TABLE_FILE_NAME}.")
        if profile is None:
            return
        try:
            profiles = read_profiles(profile, manifest)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise IntegrityError(f"the profile of {self.ref} is not readable: {exc}") from exc
        rows = sum(item.rows for item in profiles.values())
        columns = max((len(item.columns) for item in profiles.values()), default=None)
        if (rows if profiles else None, columns) != (content.row_count, content.column_count):
            raise IntegrityError(
                f"the profile of {self.ref} counts {rows} rows and {columns} columns, its record "
                f"says {content.row_count} and {content.column_count}."
            )


def _text(data: dict[str, Any], key: str, optional: bool = False) -> Any:
    """``data[key]`` if it is a string (or None, when ``optional``) without NUL bytes."""
    value = data[key]
    if value is None and optional:
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError(f"{key} must be a string without NUL bytes")
    return value


def _count(data: dict[str, Any], key: str, optional: bool = False) -> Any:
    """``data[key]`` if it is a whole number >= 0 (or None, when ``optional``)."""
    value = data[key]
    if value is None and optional:
        return None
    if type(value) is not int or value < 0:
        raise ValueError(f"{key} must be a whole number >= 0, got {value!r:.40}")
    return value


def _dataset_prefix(name: str) -> str:
    return f"datasets/{quote(name, safe='')}/"


def record_key(name: str, number: int) -> str:
    """The ref key of the record of version ``number`` of dataset ``name``."""
    return f"{_dataset_prefix(name)}{number}.json"


def remote_numbers(remote: BlobStore, name: str) -> list[int]:
    """The version numbers of ``name`` that ``remote`` holds records of, ascending."""
    prefix = _dataset_prefix(name)
    names = [key.removeprefix(prefix).removesuffix(".json") for key in remote.list_refs(prefix)]
    return sorted(int(number) for number in names if number.isdigit())


def find_remote_version(remote: BlobStore, name: str, number: int) -> RemoteVersion | None:
    """The record of ``name:number`` on ``remote``, or None if it has none.

    Raises:
        IntegrityError: the record is unreadable, or describes another version.
    """
    key = record_key(name, number)
    try:
        data = remote.get_ref(key)
    except NotFound:
        return None
    where = f"{key} at {remote.url}"
    record = RemoteVersion.from_bytes(data, where)
    if (record.name, record.version) != (name, number):
        raise IntegrityError(
            f"the version record {where} describes {record.ref}, not {name}:{number}."
        )
    return record


def read_remote_version(remote: BlobStore, name: str, number: int | None) -> RemoteVersion:
    """The record of ``name:number`` on ``remote`` (None: its highest number).

    Raises:
        NotFound: the remote holds no record of it (names the remote).
        IntegrityError: the record is unreadable, or describes another version.
    """
    if number is None:
        numbers = remote_numbers(remote, name)
        number = numbers[-1] if numbers else None
    record = None if number is None else find_remote_version(remote, name, number)
    if record is None:
        wanted = f"dataset {name!r}" if number is None else f"version {number} of dataset {name!r}"
        numbers = remote_numbers(remote, name)
        held = f" (it holds versions {', '.join(map(str, numbers))})" if numbers else ""
        raise NotFound(
            f"the remote {remote.url} has no {wanted}{held}. Push it there from the workspace "
            "that has it (a version pushed by an older Steward has no record: push it again)."
        )
    return record


def conflicting_versions(remote: BlobStore, record: RemoteVersion, there: str | None) -> Conflict:
    """The error for a remote that holds another version (digest ``there``) as ``record.ref``."""
    held = f" (digest {there}; here {record.digest})" if there else ""
    return Conflict(
        f"the remote {remote.url} holds another {record.ref}{held}, pushed from another "
        "workspace. Push to another remote, or add this data under another dataset name and "
        "push that."
    )


def write_remote_version(remote: BlobStore, record: RemoteVersion) -> None:
    """Write the record of a version on ``remote``, unless it is there already.

    Created only if absent (atomically on S3 and local folders), so that of two
    workspaces pushing different data as the same ``name:N`` at once, one wins
    and the other is told.

    Raises:
        Conflict: the remote holds another version under that name and number.
    """
    try:
        remote.put_ref(record_key(record.name, record.version), record.to_bytes(), exclusive=True)
    except Conflict:
        there = find_remote_version(remote, record.name, record.version)
        if there is None or there.digest != record.digest:
            raise conflicting_versions(remote, record, there.digest if there else None) from None
