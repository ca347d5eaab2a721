"""Prometheus metrics of a serving app: requests, latency, batch sizes, the prediction log.

Each app has its own registry, so several apps in one process (tests, the
demo) do not mix their counts. ``MetricsMiddleware`` times every request as a
plain ASGI middleware, labelled by route template (not raw path, so label
values stay bounded), status and the model version that answered.
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


class ServingMetrics:
    """The app's metrics and the text Prometheus scrapes."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "steward_requests",
            "HTTP requests by route, status and answering model version.",
            ["route", "status", "model_version"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "steward_request_duration_seconds",
            "Time to answer a request, by route, status and model version.",
            ["route", "status", "model_version"],
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
            registry=self.registry,
        )  # fmt: skip

    def observe_batch(self, model: str, version: int | None, rows: int) -> None:
        """Record one model call of ``rows`` rows."""
        self.batch_size.labels(model, str(version)).observe(rows)

    def count_predictions(self, model: str, version: int | None, route: str, rows: int) -> None:
        """Count predicted rows."""
        self.predictions.labels(model, str(version), route).inc(rows)

    def watch_log(self, writer: Callable[[], PredictionLogWriter | None]) -> None:
        """Expose the prediction log's queue depth and shed/written/failed row counts."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        from prometheus_client.registry import Collector

        class LogCollector(Collector):
            def collect(self) -> Iterator[Any]:
                log = writer()
                depth = GaugeMetricFamily(
                    "steward_prediction_log_queue_depth",
                    "Prediction-log entries waiting to be written.",
                    value=log.queue_depth if log else 0,
                )
                yield depth
                for name, value, doc in (
                    ("shed", log.shed_rows if log else 0, "rows not logged: queue full"),
                    ("written", log.written_rows if log else 0, "rows written to segments"),
                    ("failed", log.failed_rows if log else 0, "rows whose write failed"),
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
            version = str(scope.get("state", {}).get(VERSION_STATE_KEY, ""))
            elapsed = time.perf_counter() - started
            labels = (template, str(status), version)
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(elapsed)
