"""Which blobs the metadata store refers to: what a garbage collection must keep.

Every column that holds a blob digest is named here, in ``DIGEST_COLUMNS``
(a test fails when a table gains a ``*digest*`` column that neither this list
nor ``NOT_BLOB_DIGEST_COLUMNS`` names).
Some of those blobs are documents that name further blobs: a dataset
version's manifest (its files and their chunks) and profile, a monitor
result (its reference summary); ``DOCUMENT_COLUMNS`` says which, and the
collector reads them for the digests written in them.

A digest written anywhere else in the store, in any text column (a pipeline
step's outputs and cache, a monitor's configuration, an event's payload, a
tag, a param), is a reference too: keeping a blob for nothing costs its bytes, deleting one
that is needed loses data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Column, Engine, String, Text, or_, select

from steward.store import schema as t
from steward.store.engine import read_transaction

DIGEST_PATTERN = re.compile(r"(?:blake3|sha256):[0-9a-f]{64}")
"""A digest written in text (see ``steward.blobs.digest``)."""

DIGEST_COLUMNS: tuple[Column[str], ...] = (
    t.runs.c.system_info_digest,
    t.artifacts.c.digest,  # run artifacts, and so every logged model's files
    t.dataset_versions.c.digest,
    t.dataset_versions.c.profile_digest,
    t.model_versions.c.metadata_digest,
    t.monitor_results.c.blob_digest,
    t.prediction_segments.c.blob_digest,
)
"""Every column whose value is the digest of a stored blob."""

NOT_BLOB_DIGEST_COLUMNS: tuple[Column[str], ...] = (
    t.pipeline_steps.c.code_digest,  # a step's code, not a blob
    t.pipeline_cache.c.code_digest,
)
"""Columns named ``*digest*`` that name no blob (so the test knows they were looked at).

A pipeline step's stored outputs are named in its ``outputs`` JSON, which the scan
of text columns reads."""

DOCUMENT_COLUMNS: tuple[Column[str], ...] = (
    t.dataset_versions.c.digest,
    t.dataset_versions.c.profile_digest,
    t.monitor_results.c.blob_digest,
)
"""The columns whose blobs are documents that name further blobs."""


@dataclass(frozen=True)
class References:
    """The digests the metadata store refers to, directly or through documents."""

    digests: frozenset[str]
    """Every digest written in the store."""
    documents: frozenset[str]
    """Those whose blobs name further blobs (read them for the rest)."""


def _text_columns() -> list[Column[str]]:
    """Every text column of every table, but the digest columns."""
    direct = {(column.table.name, column.name) for column in DIGEST_COLUMNS}
    return [
        column
        for table in t.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, String | Text) and (table.name, column.name) not in direct
    ]


class ReferenceStore:
    """Reads every blob reference of the metadata store, in one consistent snapshot."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def references(self) -> References:
        """Every digest the store refers to (see the module)."""
        digests: set[str] = set()
        documents: set[str] = set()
        with read_transaction(self._engine) as connection:
            for column in DIGEST_COLUMNS:
                found = connection.execute(
                    select(column).where(column.is_not(None)).distinct()
                ).scalars()
                values = {value for value in found if value}
                digests |= values
                if any(column is document for document in DOCUMENT_COLUMNS):
                    documents |= values
            for column in _text_columns():
                rows = connection.execute(
                    select(column).where(
                        or_(column.contains("blake3:"), column.contains("sha256:"))
                    )
                ).scalars()
                for value in rows:
                    digests.update(DIGEST_PATTERN.findall(value))
        return References(frozenset(digests), frozenset(documents))
