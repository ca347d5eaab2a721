"""Pipelines: their runs, and one run's steps as a graph with what the cache saved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from steward.auth import Role
from steward.errors import InvalidInput
from steward.server.ui.pages import Context, Page

RUNS = 100
BOX_WIDTH, BOX_HEIGHT, COLUMN_GAP, ROW_GAP = 170, 46, 50, 18


@dataclass(frozen=True)
class Box:
    """A step drawn in the graph."""

    name: str
    status: str
    cached: bool
    x: int
    y: int


def runs(context: Context) -> Page:
    """Pipeline runs, newest first, with how many steps the cache answered."""
    pipeline = context.query.get("pipeline") or None
    status = context.query.get("status") or None
    if status is not None and status not in ("RUNNING", "FINISHED", "FAILED", "KILLED"):
        raise InvalidInput("status must be RUNNING, FINISHED, FAILED or KILLED.")
    found = context.workspace.store.pipelines.list_runs(pipeline, status, RUNS)
    values = {"runs": found, "pipeline": pipeline or "", "status": status or ""}
    return Page("pipelines.html", "Pipelines", values)


def layout(steps: Any) -> tuple[list[Box], list[tuple[int, int, int, int]], int, int]:
    """Boxes in columns by depth (a step right of every step it depends on) and the
    lines between them; returns boxes, lines, width and height."""
    depth: dict[str, int] = {}
    for step in sorted(steps, key=lambda s: s.position):
        depth[step.name] = 1 + max((depth.get(d, 0) for d in step.depends_on), default=-1)
    rows: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for step in sorted(steps, key=lambda s: s.position):
        column = depth[step.name]
        row = rows.get(column, 0)
        rows[column] = row + 1
        boxes[step.name] = Box(
            step.name,
            step.status.value,
            step.cached_from_run is not None,
            10 + column * (BOX_WIDTH + COLUMN_GAP),
            10 + row * (BOX_HEIGHT + ROW_GAP),
        )
    lines = [
        (
            boxes[d].x + BOX_WIDTH,
            boxes[d].y + BOX_HEIGHT // 2,
            boxes[s.name].x,
            boxes[s.name].y + BOX_HEIGHT // 2,
        )
        for s in steps
        for d in s.depends_on
        if d in boxes
    ]
    width = max((b.x for b in boxes.values()), default=0) + BOX_WIDTH + 20
    height = max((b.y for b in boxes.values()), default=0) + BOX_HEIGHT + 20
    return list(boxes.values()), lines, width, height


def run(context: Context) -> Page:
    """One pipeline run: the step graph, each step's status, timing and cache hit."""
    found = context.workspace.store.pipelines.get_run(context.path("run_id"))
    boxes, lines, width, height = layout(found.steps)
    values = {
        "run": found,
        "boxes": boxes,
        "lines": lines,
        "width": width,
        "height": height,
        "box_width": BOX_WIDTH,
        "box_height": BOX_HEIGHT,
        "cache_hits": sum(1 for s in found.steps if s.cached_from_run is not None),
    }
    return Page("pipeline_run.html", f"Pipeline {found.pipeline}", values)


PAGES = (
    ("/pipelines", runs, Role.VIEWER),
    ("/pipelines/{run_id}", run, Role.VIEWER),
)
