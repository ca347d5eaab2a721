"""SQL for serving: the index of prediction-log segments, request ids and feedback labels.

The prediction rows themselves live in Parquet segments in the blob store;
this repository records where each segment is, which request ids it holds
(so feedback can tell known ids from unknown ones), and the ground-truth
labels that arrive later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select

from steward.store import schema as t
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import ms_to_datetime, now_ms
from steward.store.tracking_sql import Statement

_CHUNK = 500
_INSERT_REQUESTS = Statement(
    "INSERT INTO prediction_requests (request_id, segment_pk, model, version, at) "
    "VALUES (?, ?, ?, ?, ?)"
)


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
                result = connection.execute(
                    insert(t.prediction_segments).values(
                        model=model,
                        version=version,
                        day=day,
                        blob_digest=blob_digest,
                        row_count=len(requests),
                        min_time=min_time,
                        max_time=max_time,
                        created_at=now_ms(),
                    )
                )
                assert result.inserted_primary_key is not None
                pk = result.inserted_primary_key[0]
                # Driver-level executemany: a batch-scoring segment holds 100,000s of ids.
                _INSERT_REQUESTS.run_many(
                    connection,
                    [(request_id, pk, model, version, at) for request_id, at in requests],
                )
                return int(pk)

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
        return found

    def add_feedback(self, labels: Sequence[tuple[str, str]], actor: str) -> None:
        """Store ``(request_id, label_json)`` pairs; a later label replaces an earlier one."""
        if not labels:
            return
        at = now_ms()
        latest = dict(labels)
        ids = list(latest)
        table = t.prediction_feedback

        def write() -> None:
            with write_transaction(self.engine) as connection:
                for chunk in _chunks(ids):
                    connection.execute(delete(table).where(table.c.request_id.in_(chunk)))
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
