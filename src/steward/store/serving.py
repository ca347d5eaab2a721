"""SQL for serving: the index of prediction-log segments, request ids and feedback labels.

The prediction rows themselves live in Parquet segments in the blob store;
this repository records where each segment is, which request ids it holds
(so feedback can tell known ids from unknown ones), and the ground-truth
labels that arrive later.

Request ids are indexed a range at a time (``prediction_request_ranges``:
the ids ``prefix + "0"`` … ``prefix + str(n - 1)``): a served row group or a
scored chunk is one range, since a row per id cost as much CPU as the model
did. An id of a range gets its own row (``prediction_requests``) when a label
arrives for it, so joins of labels with predictions read one table; logs
written before ranges (one row per served id) are read alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, literal, select, union_all

from steward.store import schema as t
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import ms_to_datetime, now_ms
from steward.store.tracking_sql import Statement

_CHUNK = 500
_INSERT_REQUESTS = Statement(
    "INSERT INTO prediction_requests (request_id, segment_pk, model, version, at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_INSERT_RANGES = Statement(
    "INSERT INTO prediction_request_ranges (prefix, row_count, segment_pk, model, version, at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_NUMBERED = re.compile(r"^(.+-)(0|[1-9][0-9]{0,17})$")


def split_request_id(request_id: str) -> tuple[str, int] | None:
    """``(prefix, number)`` of an id that a range could hold (``…-<number>``), else None."""
    match = _NUMBERED.match(request_id)
    return (match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class PredictionSegment:
    """One Parquet file of the prediction log: a model version's rows of one UTC day."""

    pk: int
    model: str
    version: int | None
    day: str
    blob_digest: str
    row_count: int
    min_time: datetime
    max_time: datetime


@dataclass(frozen=True)
class FeedbackLabel:
    """A ground-truth label for one prediction, as JSON text, with who sent it and when."""

    request_id: str
    label_json: str
    received_at: datetime
    received_by: str


def _datetime(value: int) -> datetime:
    result = ms_to_datetime(value)
    assert result is not None
    return result


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class ServingStore:
    """Prediction-log segments, the request-id index and feedback labels."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_segment(
        self,
        model: str,
        version: int | None,
        day: str,
        blob_digest: str,
        requests: Sequence[tuple[str, int]],
    ) -> PredictionSegment:
        """Index a written segment and the ``(request_id, time_ms)`` pairs it holds."""
        times = [at for _, at in requests]
        min_time, max_time = min(times), max(times)

        def write() -> int:
            with write_transaction(self.engine) as connection:
                pk = self._insert_segment(
                    connection, model, version, day, blob_digest, len(requests), min_time, max_time
                )
                # Driver-level executemany: a row per id, for served request groups.
                _INSERT_REQUESTS.run_many(
                    connection,
                    [(request_id, pk, model, version, at) for request_id, at in requests],
                )
                return pk

        pk = run_with_retry(write)
        return PredictionSegment(
            pk,
            model,
            version,
            day,
            blob_digest,
            len(requests),
            _datetime(min_time),
            _datetime(max_time),
        )

    def add_range_segment(
        self,
        model: str,
        version: int | None,
        day: str,
        blob_digest: str,
        ranges: Sequence[tuple[str, int, int]],
    ) -> PredictionSegment:
        """Index a written segment by the ranges ``(prefix, row_count, at)`` of its request
        ids: ``prefix + "0"`` to ``prefix + str(row_count - 1)``, logged at ``at`` (ms).

        One index row per range, not one per id: a served row group or a scored chunk
        is one range. A range's prefix may repeat in another segment (a shadow logs
        the ids of the answer it mirrors, after it); ids of such a range that were
        labelled meanwhile get their index row in this segment too, so the label joins
        the shadow's prediction as well as the answer's.
        """
        rows = sum(row_count for _, row_count, _ in ranges)
        min_time = min(at for _, _, at in ranges)
        max_time = max(at for _, _, at in ranges)

        def write() -> int:
            with write_transaction(self.engine) as connection:
                pk = self._insert_segment(
                    connection, model, version, day, blob_digest, rows, min_time, max_time
                )
                labelled = _labelled_in(connection, ranges)
                _INSERT_RANGES.run_many(
                    connection,
                    [
                        (prefix, row_count, pk, model, version, at)
                        for prefix, row_count, at in ranges
                    ],
                )
                _INSERT_REQUESTS.run_many(
                    connection,
                    [(request_id, pk, model, version, at) for request_id, at in labelled],
                )
                return pk

        pk = run_with_retry(write)
        return PredictionSegment(
            pk, model, version, day, blob_digest, rows, _datetime(min_time), _datetime(max_time)
        )

    @staticmethod
    def _insert_segment(
        connection: Connection,
        model: str,
        version: int | None,
        day: str,
        blob_digest: str,
        row_count: int,
        min_time: int,
        max_time: int,
    ) -> int:
        result = connection.execute(
            insert(t.prediction_segments).values(
                model=model,
                version=version,
                day=day,
                blob_digest=blob_digest,
                row_count=row_count,
                min_time=min_time,
                max_time=max_time,
                created_at=now_ms(),
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])

    def list_segments(
        self, model: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[PredictionSegment]:
        """Segments of ``model`` that may hold rows in ``[since, until)``, oldest first."""
        table = t.prediction_segments
        query = select(table).where(table.c.model == model)
        if since_ms is not None:
            query = query.where(table.c.max_time >= since_ms)
        if until_ms is not None:
            query = query.where(table.c.min_time < until_ms)
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query.order_by(table.c.min_time, table.c.pk)).all()
        return [
            PredictionSegment(
                row.pk,
                row.model,
                row.version,
                row.day,
                row.blob_digest,
                row.row_count,
                _datetime(row.min_time),
                _datetime(row.max_time),
            )
            for row in rows
        ]

    def known_requests(self, request_ids: Sequence[str]) -> set[str]:
        """The subset of ``request_ids`` that the prediction log holds."""
        found: set[str] = set()
        column = t.prediction_requests.c.request_id
        with read_transaction(self.engine) as connection:
            for chunk in _chunks(list(request_ids)):
                found.update(connection.execute(select(column).where(column.in_(chunk))).scalars())
            rest = [request_id for request_id in request_ids if request_id not in found]
            found.update(_ranged(connection, rest))
        return found

    def add_feedback(self, labels: Sequence[tuple[str, str]], actor: str) -> None:
        """Store ``(request_id, label_json)`` pairs; a later label replaces an earlier one.

        An id known only through a range (batch scoring) gets its own index row
        now, so labels join predictions through ``prediction_requests`` alone.
        """
        if not labels:
            return
        at = now_ms()
        latest = dict(labels)
        ids = list(latest)
        table = t.prediction_feedback
        requests = t.prediction_requests

        def write() -> None:
            with write_transaction(self.engine) as connection:
                indexed: set[str] = set()
                for chunk in _chunks(ids):
                    connection.execute(delete(table).where(table.c.request_id.in_(chunk)))
                    indexed.update(
                        connection.execute(
                            select(requests.c.request_id).where(requests.c.request_id.in_(chunk))
                        ).scalars()
                    )
                unindexed = [request_id for request_id in ids if request_id not in indexed]
                ranged = _ranged(connection, unindexed)
                _INSERT_REQUESTS.run_many(
                    connection,
                    [(request_id, *row) for request_id, rows in ranged.items() for row in rows],
                )
                connection.execute(
                    insert(table),
                    [
                        {
                            "request_id": request_id,
                            "label": label,
                            "received_at": at,
                            "received_by": actor,
                        }
                        for request_id, label in latest.items()
                    ],
                )

        run_with_retry(write)

    def feedback(
        self, model: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[FeedbackLabel]:
        """Labels for the predictions of ``model`` made in ``[since, until)``."""
        feedback, requests = t.prediction_feedback, t.prediction_requests
        query = (
            select(feedback)
            .join(requests, requests.c.request_id == feedback.c.request_id)
            .where(requests.c.model == model)
        )
        if since_ms is not None:
            query = query.where(requests.c.at >= since_ms)
        if until_ms is not None:
            query = query.where(requests.c.at < until_ms)
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query).all()
        return [
            FeedbackLabel(row.request_id, row.label, _datetime(row.received_at), row.received_by)
            for row in rows
        ]


def _labelled_in(
    connection: Connection, ranges: Sequence[tuple[str, int, int]]
) -> list[tuple[str, int]]:
    """``(request_id, at)`` of the ids in ``ranges`` that already have their own index row
    (a label arrived) in another segment: only a range whose prefix an earlier segment
    holds can have any, so one indexed lookup of the prefixes is all most writes cost."""
    table, requests = t.prediction_request_ranges, t.prediction_requests
    wanted = {prefix: (row_count, at) for prefix, row_count, at in ranges}
    earlier: set[int] = set()
    for chunk in _chunks(list(wanted)):
        query = select(table.c.segment_pk).where(table.c.prefix.in_(chunk))
        earlier.update(connection.execute(query).scalars())
    found: dict[str, int] = {}
    pks = sorted(earlier)
    for start in range(0, len(pks), _CHUNK):
        query = select(requests.c.request_id).where(
            requests.c.segment_pk.in_(pks[start : start + _CHUNK])
        )
        for request_id in connection.execute(query).scalars():
            split = split_request_id(request_id)
            if split is not None and split[0] in wanted:
                row_count, at = wanted[split[0]]
                if split[1] < row_count:
                    found[request_id] = at
    return list(found.items())


def _ranged(connection: Connection, request_ids: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """The ids among ``request_ids`` that ranges hold: id -> its (segment_pk, model, version,
    at) in each segment (a shadow's and its primary's), as ``prediction_requests`` would
    index them."""
    wanted: dict[str, list[tuple[str, int]]] = {}
    for request_id in request_ids:
        split = split_request_id(request_id)
        if split is not None:
            wanted.setdefault(split[0], []).append((request_id, split[1]))
    ranges = t.prediction_request_ranges
    found: dict[str, list[tuple[Any, ...]]] = {}
    for chunk in _chunks(list(wanted)):
        rows = connection.execute(
            select(
                ranges.c.prefix,
                ranges.c.row_count,
                ranges.c.segment_pk,
                ranges.c.model,
                ranges.c.version,
                ranges.c.at,
            ).where(ranges.c.prefix.in_(chunk))
        ).all()
        for prefix, row_count, *row in rows:
            for request_id, number in wanted[prefix]:
                if number < row_count:
                    found.setdefault(request_id, []).append(tuple(row))
    return found


def request_rows(request_id: str) -> Any:
    """A subquery of the log's rows for ``request_id`` — indexed alone or in a range — with
    the columns of ``prediction_requests`` that lineage reads (pk, segment_pk, model,
    version, at)."""
    requests, ranges = t.prediction_requests, t.prediction_request_ranges
    exact = select(
        requests.c.pk, requests.c.segment_pk, requests.c.model, requests.c.version, requests.c.at
    ).where(requests.c.request_id == request_id)
    split = split_request_id(request_id)
    if split is None:
        return exact.subquery("pr")
    prefix, number = split
    # A range's rows sort after every row indexed alone (their pks are another sequence).
    ranged = select(
        (ranges.c.pk + literal(1 << 40)).label("pk"),
        ranges.c.segment_pk,
        ranges.c.model,
        ranges.c.version,
        ranges.c.at,
    ).where(
        ranges.c.prefix == prefix,
        ranges.c.row_count > number,
        ~select(requests.c.pk).where(requests.c.request_id == request_id).exists(),
    )
    return union_all(exact, ranged).subquery("pr")
