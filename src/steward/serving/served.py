"""One served model: its deployments, its queue, its reloads, and whether it is loaded.

A ``ServedModel`` is what a route name stands for. Loaded, it holds a router
(primary, canary, shadow, each with its own micro-batcher) and a reloader that
follows its aliases; unloaded, nothing but its spec. Requests pass through its
admission queue: at most ``max_queue`` at once, the others refused at once
with 503 and ``Retry-After``, so the requests it holds keep their latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from steward.serving.errors import Overloaded, public_message
from steward.serving.memory import settle

if TYPE_CHECKING:
    from steward.serving.logs import PredictionLogs
    from steward.serving.metrics import ServingMetrics
    from steward.serving.reload import Reloader
    from steward.serving.routing import Router
    from steward.serving.spec import ModelSpec

logger = logging.getLogger("steward.serving")

UNLOADED, LOADING, READY, FAILED = "unloaded", "loading", "ready", "failed"


class ServedModel:
    """A named model of the server, loaded or not."""

    def __init__(self, spec: ModelSpec, metrics: ServingMetrics, logs: PredictionLogs) -> None:
        self.spec = spec
        self.name = spec.name
        self.config = spec.config
        self.metrics = metrics
        self.logs = logs
        self.router: Router | None = None
        self.reloader: Reloader | None = None
        self.state = UNLOADED
        self.error: str | None = None
        """Why the last load failed (fit for clients: no paths)."""
        self.failed_at = 0.0
        self.disabled = False
        """Unloaded through the repository API: stays unloaded until loaded the same way."""
        self.last_used = time.monotonic()
        self.memory_bytes = 0
        self.in_flight = 0
        self.active = 0
        """Requests predicting on the router now (an unload waits for them)."""
        self._poller: asyncio.Task[None] | None = None
        metrics.loaded.labels(self.name).set(0)
        metrics.reload_failing.labels(self.name).set(0)

    @property
    def reload_error(self) -> str | None:
        """Why the last reload check failed (the previous version still serves)."""
        return self.reloader.last_error if self.reloader is not None else None

    def build(self) -> Router:
        """Load, warm up and wire every deployment (blocking: run it in a worker thread).

        Raises:
            StewardError: a version cannot be loaded (nothing is kept).
        """
        from steward.serving.deployment import load_deployment
        from steward.serving.routing import Router

        config = self.config
        loaded = {
            role: load_deployment(
                source,
                trust=config.trust,
                backend=config.backend,
                max_batch_rows=config.max_batch_rows,
                max_wait_ms=config.max_wait_ms,
                observe_batch=self.metrics.observe_batch,
            )
            for role, source in self.spec.sources().items()
        }
        router = Router(
            loaded["primary"],
            canary=loaded.get("canary"),
            canary_share=self.spec.canary_share,
            shadow=loaded.get("shadow"),
            log=self.logs.writer_for(self.spec),
            max_rows=config.max_rows,
        )
        router.on_predictions = lambda deployment, route, rows: self.metrics.count_predictions(
            deployment.name, deployment.version, route, rows
        )
        settle()
        return router

    async def start(self, router: Router) -> None:
        """Start serving a built router: batchers, the reloader, and its poller."""
        from steward.serving.reload import Reloader

        for deployment in router.deployments():
            deployment.batcher.start()
        self.reloader = Reloader(
            router,
            self.spec.sources(),
            self.config,
            observe_batch=self.metrics.observe_batch,
            on_reload=self.metrics.reloads.labels(self.name).inc,
            on_failure=self._reload_checked,
        )
        interval = self.config.reload_interval_s
        if interval > 0 and self.reloader.sources:
            self._poller = asyncio.get_running_loop().create_task(self.reloader.poll(interval))
        self.router = router
        self.state, self.error = READY, None
        self.last_used = time.monotonic()
        self.metrics.loaded.labels(self.name).set(1)
        self.metrics.loads.labels(self.name).inc()
        logger.info("serving %s as %r", router.primary.label, self.name)

    def failed(self, exc: BaseException) -> None:
        """Record a failed load: the model stays unloaded, the reason is kept."""
        self.state, self.error = FAILED, public_message(str(exc))[:300]
        self.failed_at = time.monotonic()
        logger.error("could not load model %r: %s", self.name, exc)

    def _reload_checked(self, error: str | None) -> None:
        self.metrics.reload_failing.labels(self.name).set(0 if error is None else 1)
        if error is not None:
            self.metrics.reload_failures.labels(self.name).inc()

    async def stop(self, reason: str | None = None) -> None:
        """Finish what the model holds and let it go (``reason``: why, for metrics).

        The router is taken away first, so no new request starts on it; the requests
        already using it (``active``) are answered before its batchers stop.
        """
        router, self.router = self.router, None
        while self.active:
            await asyncio.sleep(0.005)
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self.reloader is not None:
            await self.reloader.close()
            self.reloader = None
        if router is not None:
            await router.drain()
            for deployment in router.deployments():
                await deployment.batcher.stop()
        self.state = UNLOADED
        self.memory_bytes = 0
        self.metrics.loaded.labels(self.name).set(0)
        self.metrics.memory.labels(self.name).set(0)
        if reason is not None and router is not None:
            self.metrics.unloads.labels(self.name, reason).inc()
            logger.info("unloaded model %r (%s)", self.name, reason)

    @contextlib.contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold one place in the model's queue for a request, or refuse it (503).

        Raises:
            Overloaded: the queue is full.
        """
        if self.in_flight >= self.config.max_queue:
            self.metrics.rejected.labels(self.name).inc()
            raise Overloaded(
                f"model {self.name!r} is answering {self.in_flight} requests, its limit; "
                "retry shortly."
            )
        self.in_flight += 1
        self.metrics.in_flight.labels(self.name).set(self.in_flight)
        self.last_used = time.monotonic()
        try:
            yield
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.labels(self.name).set(self.in_flight)

    def status(self) -> dict[str, Any]:
        """What ``/ready`` says of the model."""
        router = self.router
        status: dict[str, Any] = {"state": "unloaded (disabled)" if self.disabled else self.state}
        if router is not None:
            status.update(
                model=router.primary.name,
                version=router.primary.version,
                canary=None if router.canary is None else router.canary.version,
                shadow=None if router.shadow is None else router.shadow.version,
            )
        if self.error is not None:
            status["error"] = self.error
        if self.reload_error is not None:
            status["reload_error"] = self.reload_error
        return status
