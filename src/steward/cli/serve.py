"""``steward serve``: serve registered models or bundle folders over HTTP."""

from __future__ import annotations

import typer

_MODELS_HELP = (
    "What to serve: models:/NAME@ALIAS, NAME@ALIAS, models:/NAME/VERSION or a bundle folder. "
    "Several: one process serves them all, each at /models/NAME/... and /v2/models/NAME/...; "
    "NAME=URI chooses the route name."
)


_UNITS = {"": 2**20, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30}


def parse_size(text: str) -> int:
    """``400MB``, ``1.5GB``, ``400`` (MB) as bytes.

    Raises:
        InvalidInput: not a size.
    """
    import re

    from steward.errors import InvalidInput

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS or float(match.group(1)) <= 0:
        raise InvalidInput(f"--max-memory {text[:30]!r} is not a size; write e.g. 400MB or 1.5GB.")
    return int(float(match.group(1)) * _UNITS[unit])


def serve(
    models: list[str] = typer.Argument(None, help=_MODELS_HELP, show_default=False),
    models_from: str | None = typer.Option(
        None,
        "--models-from",
        help="A TOML, YAML or JSON file of models to serve (docs/serving.md).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
    workers: int = typer.Option(1, help="uvicorn worker processes (each loads the models)."),
    canary: str | None = typer.Option(
        None, help="Send a share of traffic to another version: models:/name@challenger:10"
    ),
    shadow: str | None = typer.Option(
        None, help="Also run this version on every request; log it, return only the primary."
    ),
    backend: str = typer.Option("native", help="native, or onnx to use the ONNX export."),
    trust: bool = typer.Option(
        False, help="Trust the model entirely: pickle, and every type and callable it holds."
    ),
    trust_type: list[str] = typer.Option(
        [],
        "--trust-type",
        help="Trust one more type or callable the model holds, by dotted name (repeatable); "
        "a refused model names what to list.",
    ),
    max_body_mb: float = typer.Option(4.0, help="Largest request body, in MB (413 above)."),
    max_rows: int = typer.Option(10_000, help="Most rows per request (413 above)."),
    max_batch_rows: int = typer.Option(64, help="Most rows per model call when batching."),
    max_wait_ms: float = typer.Option(2.0, help="Longest a batch waits for more requests."),
    max_queue: int = typer.Option(
        32, help="Requests one model holds at once; past it 503 with Retry-After."
    ),
    log_predictions: bool = typer.Option(True, help="Write every prediction to the log."),
    log_dir: str | None = typer.Option(
        None, help="Bundles only: prediction-log folder (default <bundle>/predictions)."
    ),
    reload_interval: float = typer.Option(
        30.0, help="Seconds between checks whether an alias moved (0: only POST /admin/reload)."
    ),
    admin_token: str | None = typer.Option(
        None,
        envvar="STEWARD_ADMIN_TOKEN",
        help="Token admin routes require; without one they answer loopback callers only.",
    ),
    idle_unload: float = typer.Option(
        0.0, help="Several models: unload one unused this many seconds (0: never)."
    ),
    max_memory: str | None = typer.Option(
        None,
        "--max-memory",
        help="Several models: unload the least recently used to keep the process under this "
        "resident size: 400MB, 1.5GB (a plain number is MB).",
    ),
    header_timeout: float = typer.Option(
        10.0, help="Seconds a client has to send a request's headers (408 and closed after)."
    ),
) -> None:
    """Serve models: native /predict, MLflow /invocations and Open Inference Protocol v2."""
    from steward.cli.output import console
    from steward.errors import InvalidInput
    from steward.serving.config import ServingConfig
    from steward.serving.server import serve as run

    if not models and models_from is None:
        raise InvalidInput(
            "give a model to serve (NAME@ALIAS or a bundle folder) or --models-from."
        )
    config = ServingConfig(
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_rows=max_rows,
        max_batch_rows=max_batch_rows,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        backend=backend,
        trust=True if trust else tuple(trust_type),
        log_predictions=log_predictions,
        reload_interval_s=reload_interval,
        admin_token=admin_token,
        header_timeout_s=header_timeout,
        idle_unload_s=idle_unload,
        max_memory_bytes=None if max_memory is None else parse_size(max_memory),
    )
    single = len(models or []) == 1 and models_from is None

    def announce(checked: list[tuple[str, int | None]]) -> None:
        served = ", ".join(
            f"[bold]{name}[/bold] v{version if version is not None else '-'}"
            for name, version in checked
        )
        routes = (
            f"POST /predict, /invocations, /v2/models/{checked[0][0]}/infer"
            if single
            else "POST /models/NAME/predict, /models/NAME/invocations, /v2/models/NAME/infer"
        )
        console.print(f"serving {served} on http://{host}:{port}  ({routes})")

    run(
        models[0] if single else list(models or []),
        host=host,
        port=port,
        workers=workers,
        canary=canary,
        shadow=shadow,
        config=config,
        log_dir=log_dir,
        models_file=models_from,
        on_ready=announce,
    )
