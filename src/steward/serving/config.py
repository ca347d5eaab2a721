"""Serving settings: limits, batching, logging and reload, with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServingConfig:
    """How a serving app behaves.

    Attributes:
        max_body_bytes: requests with a larger body get 413 (checked while reading).
        max_rows: requests with more rows get 413.
        max_batch_rows: the most rows one model call takes when batching.
        max_wait_ms: how long a batch may wait for more requests while under load.
        backend: ``native`` or ``onnx`` (the ONNX export, where the model has one).
        trust: what the served models may hold beyond Steward's trust set: ``True``
            for everything (pickle included), or the dotted names of further types
            and callables (``("numpy.log1p",)``), as for ``steward.models.load``.
        log_predictions: write every prediction to the prediction log.
        log_queue_size: log entries held in memory before new ones are shed.
        log_flush_rows: rows that trigger a Parquet segment write.
        log_flush_interval_s: the longest a logged prediction waits to be written.
        reload_interval_s: how often to check whether an alias moved (0: only on
            ``POST /admin/reload``).
        admin_token: if set, ``/admin/*`` routes need ``Authorization: Bearer <token>``.
        probabilities: return class probabilities on ``/predict`` and v2.
    """

    max_body_bytes: int = 4 * 1024 * 1024
    max_rows: int = 10_000
    max_batch_rows: int = 64
    max_wait_ms: float = 2.0
    backend: str = "native"
    trust: bool | tuple[str, ...] = False
    log_predictions: bool = True
    log_queue_size: int = 10_000
    log_flush_rows: int = 5_000
    log_flush_interval_s: float = 1.0
    reload_interval_s: float = 30.0
    admin_token: str | None = None
    probabilities: bool = True
