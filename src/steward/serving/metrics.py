"""Prometheus metrics of a serving app: requests, latency, batch sizes, models, the log.

Each app has its own registry, so several apps in one process (tests, the
demo) do not mix their counts. ``MetricsMiddleware`` times every request as a
plain ASGI middleware, labelled by route template (not raw path, so label
values stay bounded), status, the served model (one of the configured names,
or empty) and the model version that answered. Per model: whether it is
loaded, its resident size, requests held and refused by its queue, loads,
unloads and reload failures; and the process's own memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steward.serving.prediction_log import PredictionLogWriter

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
    0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
VERSION_STATE_KEY = "steward_model_version"
MODEL_STATE_KEY = "steward_model"


class ServingMetrics:
    """The app's metrics and the text Prometheus scrapes."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        from prometheus_client import Gauge, ProcessCollector

        ProcessCollector(registry=self.registry)
        labels = ["route", "status", "model", "model_version"]
        self.requests = Counter(
            "steward_requests",
            "HTTP requests by route, status, model and answering model version.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "steward_request_duration_seconds",
            "Time to answer a request, by route, status, model and model version.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "steward_batch_size",
            "Rows per model call (micro-batching groups concurrent requests).",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "steward_predictions",
            "Predicted rows by model, version and route (primary, canary, shadow).",
            ["model", "version", "route"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "steward_model_reloads", "Times a new model version was swapped in.",
            ["model"], registry=self.registry,
        )  # fmt: skip
        self.reload_failures = Counter(
            "steward_model_reload_failures",
            "Times a new version could not be loaded (the old one kept serving).",
            ["model"], registry=self.registry,
        )  # fmt: skip
        self.reload_failing = Gauge(
            "steward_model_reload_failing",
            "1 while the last reload check of a model failed, else 0.",
            ["model"], registry=self.registry,
        )  # fmt: skip
        self.loaded = Gauge(
            "steward_model_loaded", "1 while a model is loaded, else 0.",
            ["model"], registry=self.registry,
        )  # fmt: skip
        self.memory = Gauge(
            "steward_model_resident_bytes",
            "Resident memory a model added when it was loaded (0 when unloaded).",
            ["model"], registry=self.registry,
        )  # fmt: skip
        self.loads = Counter(
            "steward_model_loads", "Model loads (at start, on first request, or asked).",
            ["model"], registry=self.registry,
        )  # fmt: skip
        self.unloads = Counter(
            "steward_model_unloads", "Model unloads by reason (idle, memory, asked).",
            ["model", "reason"], registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge(
            "steward_model_requests_in_flight",
            "Prediction requests a model holds (its admission queue).",
            ["model"], registry=self.registry,
        )  # fmt: skip
        self.rejected = Counter(
            "steward_requests_rejected",
            "Prediction requests refused with 503 because a model's queue was full.",
            ["model"], registry=self.registry,
        )  # fmt: skip

    def observe_batch(self, model: str, version: int | None, rows: int) -> None:
        """Record one model call of ``rows`` rows."""
        self.batch_size.labels(model, str(version)).observe(rows)

    def count_predictions(self, model: str, version: int | None, route: str, rows: int) -> None:
        """Count predicted rows."""
        self.predictions.labels(model, str(version), route).inc(rows)

    def watch_logs(self, writers: Callable[[], list[PredictionLogWriter]]) -> None:
        """Expose the prediction logs' queue depth and shed/written/failed row counts."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        from prometheus_client.registry import Collector

        class LogCollector(Collector):
            def collect(self) -> Iterator[Any]:
                logs = writers()
                depth = GaugeMetricFamily(
                    "steward_prediction_log_queue_depth",
                    "Prediction-log entries waiting to be written.",
                    value=sum(log.queue_depth for log in logs),
                )
                yield depth
                for name, value, doc in (
                    ("shed", sum(log.shed_rows for log in logs), "rows not logged: queue full"),
                    ("written", sum(log.written_rows for log in logs), "rows written to segments"),
                    ("failed", sum(log.failed_rows for log in logs), "rows whose write failed"),
                ):
                    yield CounterMetricFamily(
                        f"steward_prediction_log_{name}_rows", f"Prediction-log {doc}.", value=value
                    )

        self.registry.register(LogCollector())

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))


class MetricsMiddleware:
    """Times each HTTP request and counts it by route template, status and model version."""

    def __init__(self, app: Any, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            state = scope.get("state", {})
            version = str(state.get(VERSION_STATE_KEY, ""))
            elapsed = time.perf_counter() - started
            labels = (template, str(status), str(state.get(MODEL_STATE_KEY, "")), version)
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(elapsed)
