"""Progress of a pipeline run on the console: a bar, and one line per finished step."""

from __future__ import annotations

import time
from typing import Any

from steward.store.pipeline_records import StepStatus

_MARKS = {
    StepStatus.COMPLETED: "[green]✓[/green]",
    StepStatus.CACHED: "[cyan]↺[/cyan]",
    StepStatus.FAILED: "[bold red]✗[/bold red]",
    StepStatus.SKIPPED: "[dim]-[/dim]",
    StepStatus.RUNNING: "[yellow]↻[/yellow]",
}


class ConsoleProgress:
    """Draws a run's progress with rich on stderr (``console`` to draw elsewhere)."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.progress: Any = None
        self.task: Any = None
        self.started_at = 0.0
        self.counts: dict[StepStatus, int] = {}

    def started(self, run_id: str, pipeline: str, steps: list[str]) -> None:
        """Start the bar."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.started_at = time.perf_counter()
        self.console.print(f"pipeline [bold]{pipeline}[/bold]  run {run_id}", highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("steps", total=len(steps))

    def step_started(self, name: str) -> None:
        """Say which step is running."""
        if self.progress is not None:
            self.progress.update(self.task, description=f"running {name}")

    def step_finished(
        self, name: str, status: StepStatus, seconds: float | None, detail: str | None
    ) -> None:
        """Print the step's line and advance the bar."""
        if status == StepStatus.RUNNING:  # a retry
            self.console.print(f"  {_MARKS[status]} {name}  {detail}", highlight=False)
            return
        self.counts[status] = self.counts.get(status, 0) + 1
        timing = f"{seconds:.2f} s" if seconds is not None else ""
        label = {StepStatus.CACHED: "cached"}.get(status, timing)
        line = f"  {_MARKS[status]} {name}  [dim]{label}[/dim]"
        if detail and status == StepStatus.FAILED:
            line += f"  [red]{detail}[/red]"
        self.console.print(line, highlight=False)
        if self.progress is not None:
            self.progress.advance(self.task)

    def finished(self, status: Any) -> None:
        """The run ended: stop the bar."""
        self.close()

    def close(self) -> None:
        """Stop the bar and print the totals."""
        if self.progress is None:
            return
        self.progress.stop()
        self.progress = None
        parts = [f"{count} {status.value}" for status, count in self.counts.items()]
        elapsed = time.perf_counter() - self.started_at
        self.console.print(f"  {', '.join(parts)} in {elapsed:.2f} s", highlight=False)
