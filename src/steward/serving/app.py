"""``create_app``: the ASGI app that serves a model over three protocols.

Routes: ``/predict`` (native), ``/invocations`` (MLflow), ``/v2/...`` (Open
Inference Protocol), ``/feedback``, ``/health``, ``/ready``, ``/metrics``,
``/admin/reload`` and ``/explain`` (``serving/explain.py``). The model loads in
the background after start-up, so ``/health`` answers at once and ``/ready``
turns 200 once it is warmed up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

# FastAPI reads route annotations at runtime, so these two are imported for real.
from starlette.requests import Request
from starlette.responses import Response

from steward.errors import InvalidInput, NotFound
from steward.serving import protocols
from steward.serving.config import ServingConfig
from steward.serving.deployment import ModelSource, load_deployment
from steward.serving.errors import NotReady, Unauthorized, install_handlers
from steward.serving.explain import add_explain_route
from steward.serving.memory import settle
from steward.serving.metrics import VERSION_STATE_KEY, MetricsMiddleware, ServingMetrics
from steward.serving.protocols import mlflow, native, v2

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.serving.prediction_log import PredictionLogWriter
    from steward.serving.reload import Reloader
    from steward.serving.routing import PredictionResult, Router
    from steward.workspace import Workspace

logger = logging.getLogger("steward.serving")

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    for status, text in (
        (400, "Invalid input"),
        (404, "Unknown model"),
        (413, "Body or row count over the limit"),
        (415, "Not JSON"),
        (503, "Model not loaded yet"),
    )
}


def parse_canary(spec: str) -> tuple[str, float]:
    """``models:/name@challenger:10`` → (``models:/name@challenger``, 0.10).

    Raises:
        InvalidInput: the share is missing or not a percentage in (0, 100].
    """
    uri, _, share = spec.rpartition(":")
    try:
        percent = float(share)
    except ValueError:
        raise InvalidInput(
            f"canary {spec!r} needs a share: e.g. 'models:/name@challenger:10' for 10%."
        ) from None
    if not 0 < percent <= 100 or not uri:
        raise InvalidInput(f"canary share must be a percentage in (0, 100], got {share!r}.")
    return uri, percent / 100


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    import orjson
    from starlette.responses import Response

    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _safe_header(value: str | None) -> str | None:
    if not value:
        return None
    cleaned = "".join(char for char in value[:128] if char.isalnum() or char in "-_.:")
    return cleaned or None


class ServingState:
    """What a running app holds: its sources, router, log writer, reloader and metrics."""

    def __init__(
        self,
        sources: dict[str, ModelSource],
        canary_share: float,
        config: ServingConfig,
        workspace: Workspace | None,
        log_dir: Path | None,
    ) -> None:
        self.sources = sources
        self.canary_share = canary_share
        self.config = config
        self.metrics = ServingMetrics()
        self.router: Router | None = None
        self.log: PredictionLogWriter | None = None
        self.reloader: Reloader | None = None
        self.load_error: str | None = None
        self._workspace = workspace
        self._log_dir = log_dir
        self.metrics.watch_log(lambda: self.log)

    @property
    def workspace(self) -> Workspace:
        """The stores for the prediction log and feedback."""
        if self._workspace is None:
            if self.sources["primary"].is_bundle:
                from steward.workspace import open_workspace

                folder = self._log_dir or Path(self.sources["primary"].spec) / "predictions"
                self._workspace = open_workspace(home=folder)
            else:
                from steward.workspace import current_workspace

                self._workspace = current_workspace()
        return self._workspace

    def ready_router(self) -> Router:
        """The router, or 503 while the model is loading."""
        if self.router is None:
            reason = f" (loading failed: {self.load_error})" if self.load_error else ""
            raise NotReady(f"the model is not loaded yet{reason}; retry shortly.")
        return self.router

    def load(self) -> Router:
        """Load, warm up and wire every deployment (runs in a worker thread)."""
        from steward.serving.prediction_log import PredictionLogWriter
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
            for role, source in self.sources.items()
        }
        if config.log_predictions:
            self.log = PredictionLogWriter(
                self.workspace,
                max_queue=config.log_queue_size,
                flush_rows=config.log_flush_rows,
                flush_interval_s=config.log_flush_interval_s,
            )
        router = Router(
            loaded["primary"],
            canary=loaded.get("canary"),
            canary_share=self.canary_share,
            shadow=loaded.get("shadow"),
            log=self.log,
            max_rows=config.max_rows,
        )
        router.on_predictions = lambda deployment, route, rows: self.metrics.count_predictions(
            deployment.name, deployment.version, route, rows
        )
        settle()
        return router

    async def start(self) -> None:
        """Load in the background; start batchers and the reload poller once loaded."""
        from steward.serving.reload import Reloader

        try:
            router = await asyncio.to_thread(self.load)
        except Exception as exc:
            self.load_error = str(exc)[:300]
            logger.exception("could not load the model")
            return
        for deployment in router.deployments():
            deployment.batcher.start()
        self.reloader = Reloader(
            router,
            self.sources,
            self.config,
            observe_batch=self.metrics.observe_batch,
            on_reload=self.metrics.reloads.inc,
        )
        self.router = router
        logger.info("serving %s", router.primary.label)

    async def stop(self) -> None:
        """Finish in-flight work and flush the prediction log."""
        if self.reloader is not None:
            await self.reloader.close()
        if self.router is not None:
            await self.router.drain()
            for deployment in self.router.deployments():
                await deployment.batcher.stop()
        if self.log is not None:
            await asyncio.to_thread(self.log.close)


def create_app(
    model: str,
    *,
    canary: str | None = None,
    shadow: str | None = None,
    config: ServingConfig | None = None,
    workspace: Workspace | None = None,
    log_dir: str | Path | None = None,
) -> FastAPI:
    """The serving app for a model.

    Args:
        model: ``models:/name@alias``, ``models:/name/3`` or a bundle folder.
        canary: ``models:/name@challenger:10`` sends 10% of rows to the challenger.
        shadow: a model URI that also predicts on every request, logged but not returned.
        config: limits, batching, logging and reload settings.
        workspace: the stores to log to (default: the current workspace, or for a
            bundle a workspace in ``log_dir``).
        log_dir: where a bundle server keeps its prediction log (default
            ``<bundle>/predictions``).

    Returns:
        A FastAPI app; run it with uvicorn or ``steward.serving.serve``.
    """
    from steward.errors import require

    require("fastapi", "serve", "steward serve")
    from fastapi import FastAPI

    config = config or ServingConfig()
    sources = {"primary": ModelSource(model)}
    share = 0.0
    if canary:
        canary_uri, share = parse_canary(canary)
        sources["canary"] = ModelSource(canary_uri)
    if shadow:
        sources["shadow"] = ModelSource(shadow)
    state = ServingState(
        sources, share, config, workspace, Path(log_dir) if log_dir is not None else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.get_running_loop().create_task(state.start())
        poller: asyncio.Task[None] | None = None

        async def start_polling() -> None:
            nonlocal poller
            await loading
            reloader = state.reloader
            if reloader is not None and config.reload_interval_s > 0 and reloader.sources:
                poller = asyncio.get_running_loop().create_task(
                    reloader.poll(config.reload_interval_s)
                )

        starter = asyncio.get_running_loop().create_task(start_polling())
        try:
            yield
        finally:
            await starter
            if poller is not None:
                poller.cancel()
            await state.stop()

    app = FastAPI(
        title="Steward model server",
        version=__import__("steward").__version__,
        lifespan=lifespan,
        responses=_ERROR_RESPONSES,
    )
    app.state.serving = state
    install_handlers(app)
    _add_routes(app, state)
    add_explain_route(app, state, _json)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _add_routes(app: FastAPI, state: ServingState) -> None:
    config = state.config

    async def answer(
        request: Request,
        protocol: str,
        parse: Callable[[Any, Router], protocols.ParsedInput],
        reply: Callable[[PredictionResult], Any],
        want_probabilities: bool,
    ) -> Response:
        router = state.ready_router()
        payload = await protocols.read_json(request, config.max_body_bytes)
        parsed = parse(payload, router)
        correlation = _safe_header(request.headers.get("x-request-id"))
        result = await router.predict(
            parsed,
            protocol=protocol,
            want_probabilities=want_probabilities and config.probabilities,
            correlation_id=correlation,
        )
        request.scope.setdefault("state", {})[VERSION_STATE_KEY] = (
            result.versions[0] if len(set(result.versions)) == 1 else "mixed"
        )
        headers = {"x-request-id": correlation} if correlation else None
        return _json(reply(result), headers=headers)

    def entity(request: Request) -> str | None:
        value = request.headers.get("x-entity-id")
        return value[:200] if value else None

    @app.post("/predict", openapi_extra=_body(native.REQUEST_SCHEMA), tags=["predict"])
    async def predict(request: Request) -> Response:
        """Predict with Steward's protocol: records or columns in, predictions and ids out."""
        return await answer(
            request,
            "native",
            lambda payload, _router: native.parse(payload, entity(request)),
            native.format_reply,
            True,
        )

    @app.post("/invocations", openapi_extra=_body(mlflow.REQUEST_SCHEMA), tags=["predict"])
    async def invocations(request: Request) -> Response:
        """Predict with the MLflow scoring protocol."""
        return await answer(
            request,
            "mlflow",
            lambda payload, router: mlflow.parse(
                payload, router.primary.signature, entity(request)
            ),
            mlflow.format_reply,
            False,
        )

    def v2_router(name: str) -> Router:
        router = state.ready_router()
        if name != router.primary.name:
            raise NotFound(
                f"this server serves model {router.primary.name!r} only; no such model here."
            )
        return router

    async def v2_infer(request: Request, name: str) -> Response:
        v2_router(name)
        body_id: list[Any] = [None]

        def parse(payload: Any, router: Router) -> protocols.ParsedInput:
            if isinstance(payload, dict):
                body_id[0] = payload.get("id")
            return v2.parse(payload, router.primary.signature, entity(request))

        return await answer(
            request, "v2", parse, lambda result: v2.format_reply(result, body_id[0]), True
        )

    @app.post("/v2/models/{name}/infer", openapi_extra=_body(v2.REQUEST_SCHEMA), tags=["v2"])
    async def v2_model_infer(request: Request, name: str) -> Response:
        """Open Inference Protocol v2: infer."""
        return await v2_infer(request, name)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        openapi_extra=_body(v2.REQUEST_SCHEMA),
        tags=["v2"],
    )
    async def v2_version_infer(request: Request, name: str, version: str) -> Response:
        """Open Inference Protocol v2: infer on a named version (the one being served)."""
        router = v2_router(name)
        served = {str(d.version) for d in router.deployments()}
        if version not in served:
            raise NotFound(f"model {name!r} version {version[:20]!r} is not served here.")
        return await v2_infer(request, name)

    @app.get("/v2", tags=["v2"])
    async def v2_server() -> Response:
        """Open Inference Protocol v2: server metadata."""
        return _json({"name": "steward", "version": app.version, "extensions": []})

    @app.get("/v2/health/live", tags=["v2"])
    async def v2_live() -> Response:
        """Open Inference Protocol v2: liveness."""
        return _json({"live": True})

    @app.get("/v2/health/ready", tags=["v2"])
    async def v2_ready() -> Response:
        """Open Inference Protocol v2: readiness."""
        ready = state.router is not None
        return _json({"ready": ready}, 200 if ready else 503)

    @app.get("/v2/models/{name}", tags=["v2"])
    async def v2_model(name: str) -> Response:
        """Open Inference Protocol v2: model metadata."""
        router = v2_router(name)
        versions = [str(d.version) for d in router.deployments() if d.version is not None]
        return _json(v2.model_metadata(name, versions, router.primary.signature))

    @app.get("/v2/models/{name}/ready", tags=["v2"])
    async def v2_model_ready(name: str) -> Response:
        """Open Inference Protocol v2: model readiness."""
        v2_router(name)
        return _json({"name": name, "ready": True})

    @app.post("/feedback", openapi_extra=_body(feedback_schema()), tags=["feedback"])
    async def feedback(request: Request) -> Response:
        """Store ground-truth labels by request id; unknown ids are reported back."""
        from steward.serving.feedback import parse_feedback, record_feedback

        payload = await protocols.read_json(request, config.max_body_bytes)
        labels = parse_feedback(payload)
        log = state.log
        result = await asyncio.to_thread(
            record_feedback,
            state.workspace,
            labels,
            pending=log.pending if log is not None else None,
        )
        return _json(result.to_dict())

    @app.get("/health", tags=["health"])
    async def health() -> Response:
        """Liveness: the process answers."""
        return _json({"status": "ok"})

    @app.get("/ping", tags=["health"])
    async def ping() -> Response:
        """Liveness, as MLflow's scoring server names it."""
        return _json({"status": "ok"})

    @app.get("/ready", tags=["health"])
    async def ready() -> Response:
        """Readiness: 200 once the model is loaded and warmed up, else 503."""
        router = state.router
        if router is None:
            message = f"loading failed: {state.load_error}" if state.load_error else "loading"
            return _json({"status": "not ready", "detail": message}, 503)
        return _json(
            {
                "status": "ready",
                "model": router.primary.name,
                "version": router.primary.version,
                "canary": None if router.canary is None else router.canary.version,
                "shadow": None if router.shadow is None else router.shadow.version,
            }
        )

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(
            state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.post("/admin/reload", tags=["admin"])
    async def reload(request: Request) -> Response:
        """Load the versions the aliases point at now, without dropping requests."""
        if config.admin_token is not None:
            expected = f"Bearer {config.admin_token}"
            if request.headers.get("authorization") != expected:
                raise Unauthorized("this route needs 'Authorization: Bearer <admin token>'.")
        router = state.ready_router()
        assert state.reloader is not None
        changed = await state.reloader.check()
        return _json({"changed": changed, "version": router.primary.version})


def feedback_schema() -> dict[str, Any]:
    """The OpenAPI schema of the ``/feedback`` body."""
    from steward.serving.feedback import REQUEST_SCHEMA

    return REQUEST_SCHEMA
