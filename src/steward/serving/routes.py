"""The routes of a serving app: predictions by three protocols, probes, feedback, admin.

Prediction routes exist twice: without a name (``/predict``, ``/invocations``)
for a server of one model, and with one (``/models/{name}/predict``,
``/models/{name}/invocations``, ``/v2/models/{name}/infer``) for any server.
Each request first takes a place in its model's queue (or gets 503 at once),
then its model (loading it if needed), then reads its body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

# FastAPI reads route annotations at runtime, so these two are imported for real.
from starlette.requests import Request
from starlette.responses import Response

from steward.serving import protocols
from steward.serving.access import check_admin
from steward.serving.errors import NotReady, ReloadFailed
from steward.serving.metrics import MODEL_STATE_KEY, VERSION_STATE_KEY
from steward.serving.protocols import mlflow, native, v2

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.serving.config import ServingConfig
    from steward.serving.repository import ModelRepository
    from steward.serving.routing import PredictionResult, Router
    from steward.serving.served import ServedModel

MAX_HEADER_IDS = 100
"""Requests with more rows get their ids in the body only (a header stays small)."""

Reader = Callable[
    [Request, "Router", "ServingConfig"], Awaitable[tuple[protocols.ParsedInput, bool, Any]]
]
Writer = Callable[["PredictionResult", Any, dict[str, str]], Response]


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    import orjson

    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _safe_header(value: str | None) -> str | None:
    if not value:
        return None
    cleaned = "".join(char for char in value[:128] if char.isalnum() or char in "-_.:")
    return cleaned or None


def _entity(request: Request) -> str | None:
    value = request.headers.get("x-entity-id")
    return value[:200] if value else None


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def id_headers(request: Request, result: PredictionResult) -> dict[str, str]:
    """``X-Request-Id``: the rows' request ids (what ``/feedback`` takes), comma-separated;
    ``X-Correlation-Id``: the caller's own ``X-Request-Id``, which is logged with them."""
    headers = {}
    if len(result.request_ids) <= MAX_HEADER_IDS:
        headers["x-request-id"] = ",".join(result.request_ids)
    correlation = _safe_header(request.headers.get("x-request-id"))
    if correlation:
        headers["x-correlation-id"] = correlation
    return headers


def add_routes(app: FastAPI, repository: ModelRepository) -> None:
    """Add every route of a serving app."""
    _add_prediction_routes(app, repository)
    _add_v2_routes(app, repository)
    _add_service_routes(app, repository)


def _add_prediction_routes(app: FastAPI, repository: ModelRepository) -> None:
    async def serve(
        request: Request, served: ServedModel, protocol: str, read: Reader, write: Writer
    ) -> Response:
        state = request.scope.setdefault("state", {})
        state[MODEL_STATE_KEY] = served.name
        with served.admitted():
            async with repository.using(served) as router:
                result, context = await predict_with(request, router, served, protocol, read)
        state[VERSION_STATE_KEY] = result.versions[0] if len(set(result.versions)) == 1 else "mixed"
        return write(result, context, id_headers(request, result))

    async def predict_with(
        request: Request, router: Router, served: ServedModel, protocol: str, read: Reader
    ) -> tuple[PredictionResult, Any]:
        parsed, want_probabilities, context = await read(request, router, served.config)
        result = await router.predict(
            parsed,
            protocol=protocol,
            want_probabilities=want_probabilities and served.config.probabilities,
            correlation_id=_safe_header(request.headers.get("x-request-id")),
        )
        return result, context

    def json_reader(
        parse: Callable[[Any, Router, Request], protocols.ParsedInput], probabilities: bool
    ) -> Reader:
        async def read(
            request: Request, router: Router, config: ServingConfig
        ) -> tuple[Any, bool, Any]:
            payload = await protocols.read_json(
                request, config.max_body_bytes, repository.config.body_timeout_s
            )
            return parse(payload, router, request), probabilities, None

        return read

    native_read = json_reader(
        lambda payload, _router, request: native.parse(payload, _entity(request)), True
    )
    mlflow_read = json_reader(
        lambda payload, router, request: mlflow.parse(
            payload, router.primary.signature, _entity(request)
        ),
        False,
    )

    def native_write(result: PredictionResult, _context: Any, headers: dict[str, str]) -> Response:
        return json_response(native.format_reply(result), headers=headers)

    def mlflow_writer(request: Request) -> Writer:
        asked = request.query_params.get("request_ids", "").lower() in ("1", "true", "yes")

        def write(result: PredictionResult, _context: Any, headers: dict[str, str]) -> Response:
            return json_response(mlflow.format_reply(result, request_ids=asked), headers=headers)

        return write

    def model(name: str | None) -> ServedModel:
        return repository.default() if name is None else repository.get(name)

    @app.post("/predict", openapi_extra=_body(native.REQUEST_SCHEMA), tags=["predict"])
    async def predict(request: Request) -> Response:
        """Predict with Steward's protocol: records or columns in, predictions and ids out."""
        return await serve(request, model(None), "native", native_read, native_write)

    @app.post("/invocations", openapi_extra=_body(mlflow.REQUEST_SCHEMA), tags=["predict"])
    async def invocations(request: Request) -> Response:
        """Predict with the MLflow scoring protocol (``?request_ids=true``: ids in the body)."""
        served = model(None)
        return await serve(request, served, "mlflow", mlflow_read, mlflow_writer(request))

    @app.post(
        "/models/{name}/predict", openapi_extra=_body(native.REQUEST_SCHEMA), tags=["predict"]
    )
    async def named_predict(request: Request, name: str) -> Response:
        """``/predict`` for the model served as ``name``."""
        return await serve(request, model(name), "native", native_read, native_write)

    @app.post(
        "/models/{name}/invocations", openapi_extra=_body(mlflow.REQUEST_SCHEMA), tags=["predict"]
    )
    async def named_invocations(request: Request, name: str) -> Response:
        """``/invocations`` for the model served as ``name``."""
        served = model(name)
        return await serve(request, served, "mlflow", mlflow_read, mlflow_writer(request))

    async def v2_read(
        request: Request, router: Router, config: ServingConfig
    ) -> tuple[Any, bool, Any]:
        payload, binary = await v2.read_request(
            request, config.max_body_bytes, repository.config.body_timeout_s
        )
        outputs = v2.requested_outputs(payload)
        parsed = v2.parse(payload, router.primary.signature, _entity(request), binary)
        return parsed, outputs.probabilities, (payload.get("id"), outputs)

    def v2_write(result: PredictionResult, context: Any, headers: dict[str, str]) -> Response:
        request_id, outputs = context
        reply, chunks = v2.format_reply(result, request_id, outputs)
        return v2.response(reply, chunks, headers)

    @app.post("/v2/models/{name}/infer", openapi_extra=_body(v2.REQUEST_SCHEMA), tags=["v2"])
    async def v2_infer(request: Request, name: str) -> Response:
        """Open Inference Protocol v2: infer (JSON, or JSON and binary tensor data)."""
        return await serve(request, model(name), "v2", v2_read, v2_write)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        openapi_extra=_body(v2.REQUEST_SCHEMA),
        tags=["v2"],
    )
    async def v2_version_infer(request: Request, name: str, version: str) -> Response:
        """Open Inference Protocol v2: infer on a named version (the one being served)."""
        served = model(name)

        async def read(
            request: Request, router: Router, config: ServingConfig
        ) -> tuple[Any, bool, Any]:
            if version not in {str(d.version) for d in router.deployments()}:
                from steward.errors import NotFound

                raise NotFound(f"model {name!r} version {version[:20]!r} is not served here.")
            return await v2_read(request, router, config)

        return await serve(request, served, "v2", read, v2_write)


def _add_v2_routes(app: FastAPI, repository: ModelRepository) -> None:
    @app.get("/v2", tags=["v2"])
    async def v2_server() -> Response:
        """Open Inference Protocol v2: server metadata."""
        extensions = ["binary_tensor_data", "model_repository"]
        return json_response({"name": "steward", "version": app.version, "extensions": extensions})

    @app.get("/v2/health/live", tags=["v2"])
    async def v2_live() -> Response:
        """Open Inference Protocol v2: liveness."""
        return json_response({"live": not repository.failed}, 503 if repository.failed else 200)

    @app.get("/v2/health/ready", tags=["v2"])
    async def v2_ready() -> Response:
        """Open Inference Protocol v2: readiness."""
        ready = repository.ready
        return json_response({"ready": ready}, 200 if ready else 503)

    @app.get("/v2/models/{name}", tags=["v2"])
    async def v2_model(name: str) -> Response:
        """Open Inference Protocol v2: model metadata (read without loading the model)."""
        served = repository.get(name)
        router = served.router
        if router is not None:
            versions = [str(d.version) for d in router.deployments() if d.version is not None]
            return json_response(v2.model_metadata(name, versions, router.primary.signature))
        source = served.spec.source
        metadata = await asyncio.to_thread(source.metadata)
        _, version = await asyncio.to_thread(source.resolve_version)
        versions = [] if version is None else [str(version)]
        return json_response(v2.model_metadata(name, versions, metadata.signature))

    @app.get("/v2/models/{name}/ready", tags=["v2"])
    async def v2_model_ready(name: str) -> Response:
        """Open Inference Protocol v2: model readiness (200 loaded, 503 not)."""
        ready = repository.get(name).router is not None
        return json_response({"name": name, "ready": ready}, 200 if ready else 503)

    @app.post("/v2/repository/index", tags=["v2"])
    async def v2_index(request: Request) -> Response:
        """Open Inference Protocol v2 repository: every model and its state."""
        body = await request.body()
        ready_only = False
        if body.strip():
            payload = protocols.parse_json(body[:4096])
            ready_only = isinstance(payload, dict) and payload.get("ready") is True
        entries = repository.index()
        return json_response(
            [e for e in entries if e["state"] == "READY"] if ready_only else entries
        )

    @app.post("/v2/repository/models/{name}/load", tags=["v2"])
    async def v2_load(request: Request, name: str) -> Response:
        """Open Inference Protocol v2 repository: load a model now (an admin route)."""
        await asyncio.to_thread(
            check_admin, request, repository.config.admin_token, repository.workspace
        )
        await repository.load(repository.get(name), asked=True)
        return json_response({})

    @app.post("/v2/repository/models/{name}/unload", tags=["v2"])
    async def v2_unload(request: Request, name: str) -> Response:
        """Open Inference Protocol v2 repository: unload a model until it is loaded again."""
        await asyncio.to_thread(
            check_admin, request, repository.config.admin_token, repository.workspace
        )
        served = repository.get(name)
        served.disabled = True
        await repository.unload(served, "asked")
        return json_response({})


def _add_service_routes(app: FastAPI, repository: ModelRepository) -> None:
    @app.post("/feedback", openapi_extra=_body(feedback_schema()), tags=["feedback"])
    async def feedback(request: Request) -> Response:
        """Store ground-truth labels by request id; unknown ids are reported back."""
        from steward.serving.feedback import parse_feedback

        config = repository.config
        payload = await protocols.read_json(request, config.max_body_bytes, config.body_timeout_s)
        labels = parse_feedback(payload)
        result = await asyncio.to_thread(repository.logs.record_feedback, labels)
        return json_response(result.to_dict())

    @app.get("/health", tags=["health"])
    async def health() -> Response:
        """Liveness: the process answers (503 once a model it had to load could not be)."""
        if repository.failed:
            return json_response({"status": "failed", "detail": _failures(repository)}, 503)
        return json_response({"status": "ok"})

    @app.get("/ping", tags=["health"])
    async def ping() -> Response:
        """Liveness, as MLflow's scoring server names it."""
        return await health()

    @app.get("/ready", tags=["health"])
    async def ready() -> Response:
        """Readiness: 200 once the server can answer (its model loaded and warmed up)."""
        single = repository.single
        if single is not None and repository.eager:
            status = single.status()
            if single.router is None:
                detail = f"loading failed: {single.error}" if single.error else "loading"
                if single.disabled:
                    detail = "unloaded through the repository API; load it to serve again"
                return json_response({"status": "not ready", "detail": detail}, 503)
            return json_response(
                {"status": "ready", **{k: v for k, v in status.items() if k != "state"}}
            )
        models = {name: served.status() for name, served in repository.models.items()}
        ok = repository.ready
        return json_response(
            {"status": "ready" if ok else "not ready", "models": models}, 200 if ok else 503
        )

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(
            repository.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.post("/admin/reload", tags=["admin"])
    async def reload(request: Request) -> Response:
        """Load the versions the aliases point at now, without dropping requests.

        ``?model=NAME`` checks one model; otherwise every loaded model is checked.
        """
        await asyncio.to_thread(
            check_admin, request, repository.config.admin_token, repository.workspace
        )
        name = request.query_params.get("model")
        chosen = [repository.get(name)] if name else list(repository.models.values())
        answers: dict[str, Any] = {}
        failures: list[str] = []
        for served in chosen:
            router, reloader = served.router, served.reloader
            if router is None or reloader is None:
                if repository.eager:
                    raise NotReady(f"model {served.name!r} is not loaded yet; retry shortly.")
                continue
            try:
                changed = await reloader.check()
            except ReloadFailed as exc:
                failures.append(str(exc))
                changed = {}
            answers[served.name] = {"changed": changed, "version": router.primary.version}
        if failures:
            raise ReloadFailed(" ".join(failures))
        if repository.single is not None:
            return json_response(next(iter(answers.values())))
        return json_response({"models": answers})


def _failures(repository: ModelRepository) -> str:
    return "; ".join(
        f"{served.name}: {served.error}"
        for served in repository.models.values()
        if served.error is not None
    )


def feedback_schema() -> dict[str, Any]:
    """The OpenAPI schema of the ``/feedback`` body."""
    from steward.serving.feedback import REQUEST_SCHEMA

    return REQUEST_SCHEMA
