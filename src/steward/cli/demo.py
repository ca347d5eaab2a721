"""``steward demo``."""

from __future__ import annotations

import typer


def demo(
    seed: int = typer.Option(42, help="Random seed for the split and the models."),
    ui: bool = typer.Option(
        False, "--ui", help="Then serve the web UI on the demo's store until Ctrl-C."
    ),
    port: int = typer.Option(8765, help="Port of the web UI (with --ui), on 127.0.0.1."),
) -> None:
    """Run the end-to-end demo on the breast-cancer diagnostic data."""
    from steward.cli.output import console
    from steward.demo import print_demo, run_demo

    print_demo(run_demo(seed=seed, console=console), console)
    if ui:
        from steward.demo_ui import serve_demo_ui

        serve_demo_ui(port, console)
