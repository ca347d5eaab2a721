"""``steward demo``."""

from __future__ import annotations

import typer


def demo(seed: int = typer.Option(42, help="Random seed for the split and the models.")) -> None:
    """Run the end-to-end demo on the breast-cancer diagnostic data."""
    from steward.cli.output import console
    from steward.demo import print_demo, run_demo

    print_demo(run_demo(seed=seed, console=console), console)
