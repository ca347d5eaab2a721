"""``steward lineage show|prediction``."""

from __future__ import annotations

from pathlib import Path

import typer

from steward.cli.output import JSON_HELP, console, print_json

app = typer.Typer(help="Where things came from and what came of them.", no_args_is_help=True)


@app.command("show")
def show(
    reference: str = typer.Argument(
        ..., help="run:ID, dataset:NAME:V, models:/NAME/V, request:ID, monitor:NAME, alert:ID…"
    ),
    up: bool = typer.Option(False, "--up", help="Only upstream: where it came from."),
    down: bool = typer.Option(False, "--down", help="Only downstream: what came of it."),
    depth: int = typer.Option(None, "--depth", help="At most this many steps."),
    html_out: Path = typer.Option(None, "--html", help="Also write a self-contained HTML picture."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show the lineage graph around a reference (both ways unless --up or --down)."""
    from steward.governance.lineage import lineage
    from steward.governance.lineage_render import to_html, to_text

    direction = "up" if up and not down else "down" if down and not up else "both"
    graph = lineage(reference, direction, depth=depth)
    if html_out is not None:
        html_out.write_text(to_html(graph), encoding="utf-8")
    if as_json:
        print_json(graph.to_dict())
        return
    console.print(to_text(graph), highlight=False, markup=False)
    if html_out is not None:
        console.print(f"picture: {html_out}")


@app.command("prediction")
def prediction(
    request_id: str = typer.Argument(..., help="The request id a prediction was answered with."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Which data trained the model that made this prediction."""
    from steward.governance.lineage import trained_on

    found = trained_on(request_id)
    if as_json:
        print_json([item.to_dict() for item in found])
        return
    for item in found:
        data = ", ".join(f"{d.dataset}:{d.version}" for d in item.data) or "no recorded data"
        console.print(
            f"{request_id}: {item.model} v{item.version} (run {item.run_name or '-'} "
            f"{item.run_id or ''}) trained on {data}",
            highlight=False,
        )
