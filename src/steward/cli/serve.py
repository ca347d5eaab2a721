"""``steward serve``: serve a registered model or a bundle folder over HTTP."""

from __future__ import annotations

import typer


def serve(
    model: str = typer.Argument(
        ..., help="models:/name@alias, models:/name/3, or a bundle folder."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
    workers: int = typer.Option(1, help="uvicorn worker processes."),
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
    log_predictions: bool = typer.Option(True, help="Write every prediction to the log."),
    log_dir: str | None = typer.Option(
        None, help="Bundle only: prediction-log folder (default <bundle>/predictions)."
    ),
    reload_interval: float = typer.Option(
        30.0, help="Seconds between checks whether an alias moved (0: only POST /admin/reload)."
    ),
    admin_token: str | None = typer.Option(
        None, envvar="STEWARD_ADMIN_TOKEN", help="Token that /admin routes require."
    ),
) -> None:
    """Serve a model: native /predict, MLflow /invocations and Open Inference Protocol v2."""
    from steward.cli.output import console
    from steward.serving.config import ServingConfig
    from steward.serving.deployment import ModelSource
    from steward.serving.server import serve as run

    name, version = ModelSource(model).resolve_version()  # fail fast on a bad source
    config = ServingConfig(
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_rows=max_rows,
        max_batch_rows=max_batch_rows,
        max_wait_ms=max_wait_ms,
        backend=backend,
        trust=True if trust else tuple(trust_type),
        log_predictions=log_predictions,
        reload_interval_s=reload_interval,
        admin_token=admin_token,
    )
    console.print(
        f"serving [bold]{name}[/bold] v{version if version is not None else '-'} "
        f"on http://{host}:{port}  (POST /predict, /invocations, /v2/models/{name}/infer)"
    )
    run(
        model,
        host=host,
        port=port,
        workers=workers,
        canary=canary,
        shadow=shadow,
        config=config,
        log_dir=log_dir,
    )
