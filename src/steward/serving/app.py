"""``create_app``: the ASGI app that serves one model, or many, over three protocols.

Routes (``steward.serving.routes``): ``/predict`` (native), ``/invocations``
(MLflow), ``/v2/...`` (Open Inference Protocol, with its repository API),
the same by name under ``/models/{name}/...``, ``/feedback``, ``/health``,
``/ready``, ``/metrics``, ``/admin/reload`` and ``/explain``
(``serving/explain.py``). One model loads in the background after start-up
(``/ready`` turns 200 once it is warmed up) unless ``steward serve`` loaded it
already; several load on their first request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.serving.config import ServingConfig
from steward.serving.errors import install_handlers
from steward.serving.explain import add_explain_routes
from steward.serving.metrics import MetricsMiddleware
from steward.serving.repository import ModelRepository
from steward.serving.spec import ModelSpec, check_unique, model_spec, parse_canary, read_models_file

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.workspace import Workspace

__all__ = ["create_app", "model_specs", "parse_canary"]

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
        (503, "Model not loaded yet, or its queue is full (see Retry-After)"),
    )
}


def model_specs(
    models: str | Sequence[str | ModelSpec],
    config: ServingConfig,
    *,
    canary: str | None = None,
    shadow: str | None = None,
    models_file: str | Path | None = None,
) -> list[ModelSpec]:
    """The specs of what a server serves, from references, specs and a models file.

    Raises:
        InvalidInput: a bad reference, a name served twice, or a canary or shadow
            given for several models at once.
    """
    references = [models] if isinstance(models, str) else list(models)
    specs = [
        item if isinstance(item, ModelSpec) else model_spec(item, config) for item in references
    ]
    if models_file is not None:
        specs += read_models_file(models_file, config)
    if canary or shadow:
        if len(specs) != 1:
            raise InvalidInput(
                "--canary and --shadow apply to one model; with several, set 'canary' and "
                "'shadow' per model in a models file."
            )
        only = specs[0]
        specs = [model_spec(only.source.spec, config, name=only.name, canary=canary, shadow=shadow)]
    return check_unique(specs)


def create_app(
    model: str | Sequence[str | ModelSpec],
    *,
    canary: str | None = None,
    shadow: str | None = None,
    config: ServingConfig | None = None,
    workspace: Workspace | None = None,
    log_dir: str | Path | None = None,
    models_file: str | Path | None = None,
) -> FastAPI:
    """The serving app for a model, or for several.

    Args:
        model: ``models:/name@alias``, ``name@alias``, ``models:/name/3`` or a bundle
            folder — served alone, loaded at start; or a list of them (``NAME=URI``
            names a route), each loaded on its first request.
        canary: ``models:/name@challenger:10`` sends 10% of rows to the challenger.
        shadow: a model URI that also predicts on every request, logged but not returned.
        config: limits, batching, logging and reload settings (each model of a
            models file may override its own).
        workspace: the stores to log to (default: the current workspace, or for a
            bundle a workspace in ``log_dir``).
        log_dir: where bundles keep their prediction log (default
            ``<bundle>/predictions``).
        models_file: a TOML, YAML or JSON file of models to serve (see
            ``steward.serving.spec``).

    Returns:
        A FastAPI app; run it with uvicorn or ``steward.serving.serve``.
    """
    from steward.errors import require

    require("fastapi", "serve", "steward serve")
    from fastapi import FastAPI

    from steward.serving.routes import add_routes

    config = config or ServingConfig()
    specs = model_specs(model, config, canary=canary, shadow=shadow, models_file=models_file)
    single = isinstance(model, str) and models_file is None
    repository = ModelRepository(
        specs,
        config,
        eager=single,
        workspace=workspace,
        log_dir=Path(log_dir) if log_dir is not None else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await repository.start()
        try:
            yield
        finally:
            await repository.stop()

    app = FastAPI(
        title="Steward model server",
        version=__import__("steward").__version__,
        lifespan=lifespan,
        responses=_ERROR_RESPONSES,
    )
    app.state.serving = repository
    install_handlers(app)
    add_routes(app, repository)
    add_explain_routes(app, repository)
    app.add_middleware(MetricsMiddleware, metrics=repository.metrics)
    return app
