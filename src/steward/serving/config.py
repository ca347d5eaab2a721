"""Serving settings: limits, batching, logging and reload, with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass

PER_MODEL = frozenset(
    {
        "backend",
        "trust",
        "max_body_bytes",
        "max_rows",
        "max_batch_rows",
        "max_wait_ms",
        "max_queue",
        "log_predictions",
        "reload_interval_s",
        "probabilities",
    }
)
"""The settings a models file may set per model; the others hold for the whole server."""


@dataclass(frozen=True)
class ServingConfig:
    """How a serving app behaves.

    Attributes:
        max_body_bytes: requests with a larger body get 413 (checked while reading).
        max_rows: requests with more rows get 413.
        max_batch_rows: the most rows one model call takes when batching.
        max_wait_ms: how long a batch may wait for more requests while under load.
        max_queue: prediction requests one model holds at once (being read, waiting
            for the model or predicted); past it the server answers 503 with
            ``Retry-After`` at once, so the requests it took keep their latency.
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
        admin_token: if set, admin routes (``/admin/reload``, the v2 repository's
            load and unload) need ``Authorization: Bearer <token>``; if not, they
            answer only callers on loopback that came through no proxy.
        probabilities: return class probabilities on ``/predict`` and v2.
        max_headers: requests with more header lines get 431.
        max_header_bytes: requests whose request line and headers are larger get 431.
        header_timeout_s: a connection that has not sent a whole request head in this
            time is closed (slow-header clients hold no connection for long).
        body_timeout_s: a request body not received in this time gets 408.
        idle_unload_s: with several models, one unused this long is unloaded (0: never);
            the next request loads it again.
        max_memory_bytes: with several models, the resident memory the server aims to
            stay under by unloading the least recently used models (None: no budget).
    """

    max_body_bytes: int = 4 * 1024 * 1024
    max_rows: int = 10_000
    max_batch_rows: int = 64
    max_wait_ms: float = 2.0
    max_queue: int = 32
    backend: str = "native"
    trust: bool | tuple[str, ...] = False
    log_predictions: bool = True
    log_queue_size: int = 10_000
    log_flush_rows: int = 5_000
    log_flush_interval_s: float = 1.0
    reload_interval_s: float = 30.0
    admin_token: str | None = None
    probabilities: bool = True
    max_headers: int = 100
    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    idle_unload_s: float = 0.0
    max_memory_bytes: int | None = None
