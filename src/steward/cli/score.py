"""``steward score``: batch-score files or a dataset with a registered model."""

from __future__ import annotations

import typer


def score(
    model: str = typer.Argument(..., help="models:/NAME@ALIAS or models:/NAME/VERSION."),
    source: str = typer.Argument(
        ..., help="Parquet/CSV file, folder, quoted glob, s3:// prefix, or dataset:NAME[:V]."
    ),
    output: str = typer.Option(
        ..., "--output", "-o", help="Folder (or s3:// prefix) for Parquet parts, or dataset:NAME."
    ),
    executor: str = typer.Option("inline", "--executor", "-x", help="inline or ray."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster address."),
    workers: int | None = typer.Option(None, "--workers", help="Ray actors (default: CPUs)."),
    backend: str = typer.Option("native", help="native, or onnx to use the ONNX export."),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", help="Rows per chunk."),
    inputs: bool = typer.Option(True, "--inputs/--no-inputs", help="Copy input columns out."),
    log: bool = typer.Option(True, "--log/--no-log", help="Enter rows in the prediction log."),
    trust: bool = typer.Option(False, help="Allow models stored with pickle."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score a model over files or a dataset in chunks; run again to resume an interrupted job."""
    from steward.cli.data import _remote_options
    from steward.cli.output import console, print_json
    from steward.pipelines.scoring import score as run

    result = run(
        model,
        source,
        output,
        executor=executor,
        backend=backend,
        chunk_rows=chunk_rows,
        keep_inputs=inputs,
        log_predictions=log,
        trust=trust,
        ray_address=ray_address,
        workers=workers,
        storage_options=_remote_options(),
        progress=not as_json,
    )
    if as_json:
        print_json(result.to_dict())
        return
    where = f"dataset {result.dataset}" if result.dataset else result.output
    resumed = f", {result.rows_skipped:,} done before (resumed)" if result.resumed else ""
    console.print(
        f"scored {result.rows:,} rows with {result.model} v{result.version} into {where} "
        f"in {result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s){resumed}; "
        f"job {result.job_id}",
        highlight=False,
    )
