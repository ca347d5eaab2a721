"""Running the serving app on uvicorn: in the foreground, in workers, or in a thread.

Every connection goes through ``GuardedHttpToolsProtocol`` (limits on request
heads). ``serve`` checks every model's source before a port opens, and with
one worker loads the model first, so a model that cannot be served stops the
command with one line saying why.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from steward.errors import StewardError, require
from steward.serving.config import ServingConfig

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.serving.http_limits import ServerConfig

OPTIONS_ENV = "STEWARD_SERVE_OPTIONS"


def _uvicorn_config(app: Any, config: ServingConfig, **options: Any) -> ServerConfig:
    import importlib.util

    require("httptools", "serve", "steward serve")
    from steward.serving.http_limits import HeadLimits, ServerConfig

    defaults: dict[str, Any] = {"log_level": "warning", "access_log": False}
    if importlib.util.find_spec("uvloop") is not None and options.get("loop") != "asyncio":
        defaults["loop"] = "uvloop"
    limits = HeadLimits(config.max_headers, config.max_header_bytes, config.header_timeout_s)
    return ServerConfig(app, head_limits=limits, **{**defaults, **options})


def preflight(app: FastAPI) -> list[tuple[str, int | None]]:
    """Check every model of an app can be served as configured; the names and versions.

    Raises:
        StewardError: a source is not a model, has no ONNX export, needs trust...
    """
    from steward.serving.repository import ModelRepository

    repository = app.state.serving
    assert isinstance(repository, ModelRepository)
    found = []
    for served in repository.models.values():
        for source in served.spec.sources().values():
            checked = source.preflight(backend=served.config.backend, trust=served.config.trust)
            if source is served.spec.source:
                found.append(checked)
    return found


def serve(
    model: str | Sequence[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    canary: str | None = None,
    shadow: str | None = None,
    config: ServingConfig | None = None,
    log_dir: str | None = None,
    models_file: str | None = None,
    on_ready: Any = None,
) -> None:
    """Serve one model (or several) on uvicorn until SIGINT/SIGTERM (which flushes the log).

    Args:
        model: a model reference or bundle folder, or a list of them.
        host: the address to listen on.
        port: the port to listen on.
        workers: uvicorn worker processes (each loads the models itself).
        canary: see ``create_app``.
        shadow: see ``create_app``.
        config: limits, batching, logging and reload settings.
        log_dir: where bundles keep their prediction log.
        models_file: a TOML, YAML or JSON file of models to serve.
        on_ready: called with the checked ``(name, version)`` pairs once every model is
            checked (and, with one worker and one model, loaded), before the port opens.

    Raises:
        StewardError: a model cannot be served (before any port is opened).
    """
    from steward.serving.app import create_app

    config = config or ServingConfig()
    options: dict[str, Any] = {
        "canary": canary,
        "shadow": shadow,
        "log_dir": log_dir,
        "models_file": models_file,
    }
    app = create_app(model, config=config, **options)
    checked = preflight(app)
    if workers > 1:
        environment = {"model": model, "config": dataclasses.asdict(config), **options}
        os.environ[OPTIONS_ENV] = json.dumps(environment)
        del app  # each worker builds its own
        settings: ServerConfig = _uvicorn_config(
            "steward.serving.server:app_from_environment",
            config,
            factory=True,
            host=host,
            port=port,
            workers=workers,
        )
        if on_ready is not None:
            on_ready(checked)
        _run(settings)
        return
    app.state.serving.preload()
    if on_ready is not None:
        on_ready(checked)
    _run(_uvicorn_config(app, config, host=host, port=port))


def _run(settings: ServerConfig) -> None:
    import uvicorn

    server = uvicorn.Server(settings)
    if settings.workers > 1:
        from steward.serving.workers import run_workers

        run_workers(settings)
        return
    if not settings.loaded:
        settings.load()
    server.run()
    if not server.started:
        raise StewardError(
            f"the server could not listen on {settings.host}:{settings.port} "
            "(is another process using that port?)."
        )


def app_from_environment() -> FastAPI:
    """The app a uvicorn worker builds from ``STEWARD_SERVE_OPTIONS``."""
    from steward.serving.app import create_app

    options = json.loads(os.environ[OPTIONS_ENV])
    config = ServingConfig(**options.pop("config"))
    return create_app(options.pop("model"), config=config, **options)


class BackgroundServer:
    """uvicorn serving an app in a thread of this process (for tests, the demo, notebooks).

    Use as a context manager; ``url`` is the base URL once started.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        if port == 0:
            import socket

            with socket.socket() as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
        self.url = f"http://{host}:{port}"
        repository = getattr(getattr(app, "state", None), "serving", None)
        config = repository.config if repository is not None else ServingConfig()
        settings = _uvicorn_config(app, config, host=host, port=port, loop="asyncio")
        self._server = uvicorn.Server(settings)
        self._thread = threading.Thread(target=self._server.run, name="steward-serve", daemon=True)

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        """Start and wait until the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise StewardError("the model server did not start; see the log above.")
            time.sleep(0.01)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until ``/ready`` answers 200."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise StewardError(f"the model server at {self.url} did not become ready.")

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down gracefully (the prediction log is flushed)."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


__all__ = ["BackgroundServer", "app_from_environment", "preflight", "serve"]
