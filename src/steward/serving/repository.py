"""The models of one server: found by name, loaded on demand, unloaded when idle or over budget.

With one model (``steward serve NAME@ALIAS``) it is loaded when the server
starts. With several, each loads on its first request (or on the v2
repository API's ``load``), one load at a time; a model unused for
``idle_unload_s`` is unloaded, and before and after each load the least
recently used models are unloaded until the process's resident memory fits
``max_memory_bytes``. What a model adds is measured around its load (resident
memory before and after, with the heap trimmed), which is also the estimate
used to make room before it loads again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.errors import NotFound
from steward.serving.errors import NotReady
from steward.serving.logs import PredictionLogs
from steward.serving.memory import resident_bytes, settle
from steward.serving.metrics import ServingMetrics
from steward.serving.served import FAILED, LOADING, READY, ServedModel

if TYPE_CHECKING:
    from steward.serving.config import ServingConfig
    from steward.serving.routing import Router
    from steward.serving.spec import ModelSpec
    from steward.workspace import Workspace

logger = logging.getLogger("steward.serving")

_RETRY_FAILED_LOAD_S = 30.0
_HOUSEKEEPING_S = 5.0


class ModelRepository:
    """Every model a server serves, by route name."""

    def __init__(
        self,
        specs: Sequence[ModelSpec],
        config: ServingConfig,
        *,
        eager: bool,
        workspace: Workspace | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.eager = eager
        self.workspace = workspace
        """Whose users' tokens open the admin routes (None: the current workspace)."""
        self.metrics = ServingMetrics()
        self.logs = PredictionLogs(specs, config, workspace, log_dir)
        self.metrics.watch_logs(self.logs.writers)
        self.models = {spec.name: ServedModel(spec, self.metrics, self.logs) for spec in specs}
        self._built: dict[str, Router] = {}
        self._load_lock: asyncio.Lock | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None

    @property
    def single(self) -> ServedModel | None:
        """The one model, when the server serves exactly one."""
        return next(iter(self.models.values())) if len(self.models) == 1 else None

    def get(self, name: str) -> ServedModel:
        """The model served as ``name``.

        Raises:
            NotFound: no model is served by that name.
        """
        served = self.models.get(name)
        if served is None:
            known = sorted(self.models)
            shown = ", ".join(repr(n) for n in known[:20]) + (" …" if len(known) > 20 else "")
            raise NotFound(f"no such model is served here; it serves {shown}.")
        return served

    def default(self) -> ServedModel:
        """The model that routes without a name (``/predict``, ``/invocations``) serve.

        Raises:
            NotFound: the server serves several models.
        """
        served = self.single
        if served is None:
            raise NotFound(
                "this server serves several models; name one: /models/{name}/predict, "
                "/models/{name}/invocations or /v2/models/{name}/infer."
            )
        return served

    def preload(self) -> None:
        """Load the models that load at start, now, in this thread (``steward serve`` does,
        so a model that cannot load stops the command with its reason before any port opens).

        Raises:
            StewardError: a model cannot be loaded.
        """
        if not self.eager:
            return
        for served in self.models.values():
            before = resident_bytes()
            self._built[served.name] = served.build()
            served.memory_bytes = max(0, resident_bytes() - before)

    async def start(self) -> None:
        """Start: the eager models load in the background, housekeeping begins."""
        self._load_lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        if self.eager:
            self._starting = loop.create_task(self._load_all())
        if self.config.idle_unload_s > 0 or self.config.max_memory_bytes:
            self._housekeeping = loop.create_task(self._keep_house())

    async def _load_all(self) -> None:
        for served in self.models.values():
            with contextlib.suppress(NotReady):  # kept on the model: /ready and /health say so
                await self.load(served)

    async def stop(self) -> None:
        """Finish in-flight work, stop every model, flush the prediction logs."""
        for task in (self._starting, self._housekeeping):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for served in self.models.values():
            await served.stop()
        await self.logs.close()

    @property
    def failed(self) -> bool:
        """Whether a model that had to load at start could not (the server is unhealthy)."""
        return self.eager and any(served.state == FAILED for served in self.models.values())

    @property
    def ready(self) -> bool:
        """Whether the server can answer: every eager model loaded; lazy ones load on demand."""
        if not self.eager:
            return True
        return all(served.router is not None for served in self.models.values())

    @contextlib.asynccontextmanager
    async def using(self, served: ServedModel) -> AsyncIterator[Router]:
        """The model's router for one request, loading the model first if it is not loaded.

        An unload waits until the requests using the router are answered.

        Raises:
            NotReady: the model is loading at start, was unloaded by an admin,
                or could not be loaded (503, with the reason).
        """
        router = served.router
        if router is None or served.disabled:
            router = await self._router_to_load(served)
        served.active += 1
        try:
            yield router
        finally:
            served.active -= 1

    async def _router_to_load(self, served: ServedModel) -> Router:
        if served.disabled:
            raise NotReady(
                f"model {served.name!r} was unloaded; load it with "
                f"POST /v2/repository/models/{served.name}/load."
            )
        if self.eager:
            reason = f" (loading failed: {served.error})" if served.state == FAILED else ""
            raise NotReady(f"model {served.name!r} is not loaded{reason}; retry shortly.")
        return await self.load(served)

    async def load(self, served: ServedModel, *, asked: bool = False) -> Router:
        """Load a model (once, however many ask at the same time).

        A model whose load failed is tried again on a request only after a pause,
        at once when ``asked`` (the repository API).

        Raises:
            NotReady: it cannot be loaded now (the reason is kept on the model).
        """
        assert self._load_lock is not None, "the repository has not started"
        async with self._load_lock:
            if served.router is not None:
                return served.router
            recently = time.monotonic() - served.failed_at < _RETRY_FAILED_LOAD_S
            if served.state == FAILED and recently and not asked:
                raise NotReady(f"model {served.name!r} could not be loaded: {served.error}")
            served.disabled = False
            router = self._built.pop(served.name, None)
            if router is None:
                await self._make_room(served)
                served.state = LOADING
                before = resident_bytes()
                try:
                    router = await asyncio.to_thread(served.build)
                except Exception as exc:
                    served.failed(exc)
                    raise NotReady(
                        f"model {served.name!r} could not be loaded: {served.error}"
                    ) from None
                served.memory_bytes = max(0, resident_bytes() - before)
            await served.start(router)
            self.metrics.memory.labels(served.name).set(served.memory_bytes)
        await self._fit_budget(keep=served)
        return router

    async def unload(self, served: ServedModel, reason: str) -> None:
        """Unload a model once the requests using it are answered (not while one loads)."""
        assert self._load_lock is not None, "the repository has not started"
        async with self._load_lock:
            await self._unload(served, reason)

    async def _unload(self, served: ServedModel, reason: str) -> None:
        if served.router is not None:
            await served.stop(reason)
            settle()

    def _unloadable(self, keep: ServedModel | None) -> list[ServedModel]:
        """Loaded models holding no request, least recently used first."""
        candidates = [
            served
            for served in self.models.values()
            if served is not keep and served.state == READY and not served.in_flight
        ]
        return sorted(candidates, key=lambda served: served.last_used)

    async def _make_room(self, coming: ServedModel) -> None:
        budget = self.config.max_memory_bytes
        if not budget:
            return
        loaded = [s.memory_bytes for s in self.models.values() if s.memory_bytes]
        estimate = coming.memory_bytes or (max(loaded) if loaded else 0)
        for served in self._unloadable(keep=coming):
            if resident_bytes() + estimate <= budget:
                return
            await self._unload(served, "memory")  # the load lock is held

    async def _fit_budget(self, keep: ServedModel | None) -> None:
        budget = self.config.max_memory_bytes
        if not budget:
            return
        for served in self._unloadable(keep=keep):
            if resident_bytes() <= budget:
                return
            await self.unload(served, "memory")
        if resident_bytes() > budget:
            logger.warning(
                "resident memory %d MB is over the budget of %d MB with nothing left to unload",
                resident_bytes() // 2**20,
                budget // 2**20,
            )

    async def _keep_house(self) -> None:
        idle = self.config.idle_unload_s
        interval = min(_HOUSEKEEPING_S, idle / 2) if idle > 0 else _HOUSEKEEPING_S
        while True:
            await asyncio.sleep(interval)
            try:
                if idle > 0 and not self.eager:
                    now = time.monotonic()
                    for served in self._unloadable(keep=None):
                        if now - served.last_used >= idle:
                            await self.unload(served, "idle")
                if self.config.max_memory_bytes:
                    await self._fit_budget(keep=None)
            except Exception:
                logger.exception("unloading idle models failed")

    def index(self) -> list[dict[str, Any]]:
        """The v2 repository index: each model's name, version and state."""
        entries = []
        for served in self.models.values():
            router = served.router
            state = "READY" if router is not None else "UNAVAILABLE"
            if served.state == LOADING:
                state = "LOADING"
            entry: dict[str, Any] = {"name": served.name, "state": state}
            if router is not None and router.primary.version is not None:
                entry["version"] = str(router.primary.version)
            reason = served.error or ("unloaded" if served.disabled else None)
            if reason is not None and router is None:
                entry["reason"] = reason
            entries.append(entry)
        return entries
