"""Running the serving app on uvicorn: in the foreground, in workers, or in a thread."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from steward.errors import StewardError
from steward.serving.config import ServingConfig

if TYPE_CHECKING:
    from fastapi import FastAPI

OPTIONS_ENV = "STEWARD_SERVE_OPTIONS"


def _uvicorn_options() -> dict[str, Any]:
    import importlib.util

    options: dict[str, Any] = {"log_level": "warning", "access_log": False}
    if importlib.util.find_spec("uvloop") is not None:
        options["loop"] = "uvloop"
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = "httptools"
    return options


def serve(
    model: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    canary: str | None = None,
    shadow: str | None = None,
    config: ServingConfig | None = None,
    log_dir: str | None = None,
) -> None:
    """Serve ``model`` on uvicorn until SIGINT/SIGTERM (which flushes the prediction log)."""
    import uvicorn

    if workers > 1:
        options = {
            "model": model,
            "canary": canary,
            "shadow": shadow,
            "log_dir": log_dir,
            "config": dataclasses.asdict(config or ServingConfig()),
        }
        os.environ[OPTIONS_ENV] = json.dumps(options)
        uvicorn.run(
            "steward.serving.server:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **_uvicorn_options(),
        )
        return
    from steward.serving.app import create_app

    app = create_app(model, canary=canary, shadow=shadow, config=config, log_dir=log_dir)
    uvicorn.run(app, host=host, port=port, **_uvicorn_options())


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
        options = _uvicorn_options()
        options.pop("loop", None)
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
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
