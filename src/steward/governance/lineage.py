"""The lineage graph: one query API over everything recorded.

    dataset version ─▶ run ─▶ model version ─▶ deployment ─▶ prediction segment
                         ▲                          │
                         └── (retraining runs) ◀── monitor ─▶ alert

``lineage(ref, direction="up"|"down"|"both")`` walks from any node and
returns a ``LineageGraph`` of plain dataclasses (for the CLI, a REST API or a
web page); ``trained_on(request_id)`` answers "which data trained the model
that made this prediction?" in one indexed query.

Each module's part of the graph is a provider: a function giving a node's
neighbours upstream or downstream. ``register_lineage_provider`` adds one for
a kind of node (a retraining trigger adds ``alert`` → ``run`` edges), so the
graph grows without this module knowing every kind.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput, NotFound
from steward.store.lineage import (
    Edge,
    LineageGraph,
    LineageStore,
    Node,
    PredictionLineage,
    TrainingData,
)
from steward.store.records import ms_to_datetime

if TYPE_CHECKING:
    from steward.workspace import Workspace

KINDS = ("dataset", "run", "model", "deployment", "segment", "request", "monitor", "alert")
DIRECTIONS = ("up", "down", "both")
MAX_NODES = 500
SEGMENTS_SHOWN = 20
ALERTS_SHOWN = 50


Neighbour = tuple[Node, Edge]
Expander = Callable[[LineageStore, Node], list[Neighbour]]
"""Gives a node's neighbours on one side, each with the edge that links them."""

_PROVIDERS: dict[tuple[str, str], list[Expander]] = {}


def register_lineage_provider(kind: str, side: str, expander: Expander) -> None:
    """Add a provider of neighbours for nodes of ``kind`` on ``side`` (``up``/``down``).

    A module that records new links (a retraining trigger: ``alert`` → ``run``)
    registers one on import; ``lineage`` then walks through them.
    """
    if side not in ("up", "down"):
        raise InvalidInput("side must be 'up' or 'down'.")
    _PROVIDERS.setdefault((kind, side), []).append(expander)


def _when(value: int | None) -> str | None:
    moment = ms_to_datetime(value)
    return None if moment is None else moment.isoformat()


# -- nodes ---------------------------------------------------------------------------


def dataset_node(name: str, version: int, rows: int | None = None) -> Node:
    """A dataset version."""
    return Node(f"dataset:{name}:{version}", "dataset", f"{name}:{version}", {"rows": rows})


def run_node(run_id: str, name: str, status: str | None = None) -> Node:
    """A tracked run."""
    return Node(f"run:{run_id}", "run", name, {"status": status})


def model_node(name: str, version: int, status: str | None = None) -> Node:
    """A model version."""
    return Node(f"model:{name}/{version}", "model", f"{name} v{version}", {"status": status})


def deployment_node(name: str, version: int | None, row: dict[str, Any]) -> Node:
    """A model version as served: how many predictions, first and last."""
    shown = "-" if version is None else version
    return Node(
        f"deployment:{name}/{shown}",
        "deployment",
        f"{name} v{shown} served",
        {
            "predictions": int(row["rows"] or 0),
            "first": _when(row["first"]),
            "last": _when(row["last"]),
            "segments": row["segments"],
        },
    )


def monitor_node(name: str, model: str) -> Node:
    """A monitor."""
    return Node(f"monitor:{name}", "monitor", name, {"model": model})


def alert_node(row: dict[str, Any]) -> Node:
    """An alert."""
    return Node(
        f"alert:{row['id']}",
        "alert",
        f"{row['rule']} ({row['status']})",
        {"severity": row["severity"], "fired_at": _when(row["fired_at"])},
    )


def _model_of_monitor(reference: str) -> tuple[str, int | None]:
    text = reference.removeprefix("models:/")
    if "@" in text:
        return text.split("@", 1)[0], None
    name, _, version = text.partition("/")
    return name, int(version) if version.isdigit() else None


# -- built-in providers ----------------------------------------------------------------


def _dataset_runs(store: LineageStore, node: Node, direction: str) -> list[Neighbour]:
    name, _, version = node.id.removeprefix("dataset:").rpartition(":")
    row = store.dataset_version(name, int(version))
    if row is None:
        return []
    found = []
    for run in store.runs_of_dataset(row["pk"]):
        if run["direction"] != direction:
            continue
        other = run_node(run["id"], run["name"], run["status"])
        edge = (
            Edge(node.id, other.id, "read by")
            if direction == "input"
            else Edge(other.id, node.id, "produced")
        )
        found.append((other, edge))
    return found


def _run_datasets(store: LineageStore, node: Node, direction: str) -> list[Neighbour]:
    row = store.run(node.id.removeprefix("run:"))
    if row is None:
        return []
    found = []
    for item in store.datasets_of_run(row["pk"]):
        if item["direction"] != direction:
            continue
        other = dataset_node(item["name"], item["version"], item["row_count"])
        edge = (
            Edge(other.id, node.id, "read by")
            if direction == "input"
            else Edge(node.id, other.id, "produced")
        )
        found.append((other, edge))
    return found


def _run_models(store: LineageStore, node: Node) -> list[Neighbour]:
    row = store.run(node.id.removeprefix("run:"))
    if row is None:
        return []
    return [
        (
            model_node(m["name"], m["version"], m["status"]),
            Edge(node.id, f"model:{m['name']}/{m['version']}", "registered as"),
        )
        for m in store.models_of_run(row["pk"])
    ]


def _split_model(node_id: str, prefix: str) -> tuple[str, int | None]:
    name, _, version = node_id.removeprefix(prefix).rpartition("/")
    return name, int(version) if version.isdigit() else None


def _model_run(store: LineageStore, node: Node) -> list[Neighbour]:
    name, version = _split_model(node.id, "model:")
    row = None if version is None else store.model_version(name, version)
    if row is None or row["run_id"] is None:
        return []
    other = run_node(row["run_id"], row["run_name"])
    return [(other, Edge(other.id, node.id, "registered as"))]


def _model_deployments(store: LineageStore, node: Node) -> list[Neighbour]:
    name, version = _split_model(node.id, "model:")
    return [
        (
            deployment_node(name, version, row),
            Edge(node.id, f"deployment:{name}/{version}", "served as"),
        )
        for row in store.deployments(name, version)
    ]


def _deployment_model(store: LineageStore, node: Node) -> list[Neighbour]:
    name, version = _split_model(node.id, "deployment:")
    row = None if version is None else store.model_version(name, version)
    if row is None:
        return []
    other = model_node(name, version, row["status"])  # type: ignore[arg-type]
    return [(other, Edge(other.id, node.id, "served as"))]


def _segment_node(row: dict[str, Any]) -> Node:
    return Node(
        f"segment:{row['pk']}",
        "segment",
        f"log {row['day']} ({row['row_count']} rows)",
        {"rows": row["row_count"], "first": _when(row["min_time"]), "last": _when(row["max_time"])},
    )


def _deployment_segments(store: LineageStore, node: Node) -> list[Neighbour]:
    name, version = _split_model(node.id, "deployment:")
    return [
        (_segment_node(row), Edge(node.id, f"segment:{row['pk']}", "logged"))
        for row in store.segments(name, version, SEGMENTS_SHOWN)
    ]


def _deployment_monitors(store: LineageStore, node: Node) -> list[Neighbour]:
    name, version = _split_model(node.id, "deployment:")
    found = []
    for monitor in store.monitors():
        watched, pinned = _model_of_monitor(monitor["model"] or "")
        if watched != name or (pinned is not None and pinned != version):
            continue
        seen = store.monitored_versions(monitor["name"])
        if seen and version not in seen:
            continue
        other = monitor_node(monitor["name"], monitor["model"])
        found.append((other, Edge(node.id, other.id, "watched by")))
    return found


def _monitor_deployments(store: LineageStore, node: Node) -> list[Neighbour]:
    rows = store.monitors(node.id.removeprefix("monitor:"))
    if not rows:
        return []
    name, pinned = _model_of_monitor(rows[0]["model"] or "")
    seen = set(store.monitored_versions(rows[0]["name"]))
    found = []
    for row in store.deployments(name, pinned):
        if seen and row["version"] not in seen:
            continue
        other = deployment_node(name, row["version"], row)
        found.append((other, Edge(other.id, node.id, "watched by")))
    return found


def _monitor_alerts(store: LineageStore, node: Node) -> list[Neighbour]:
    return [
        (alert_node(row), Edge(node.id, f"alert:{row['id']}", "raised"))
        for row in store.alerts(node.id, ALERTS_SHOWN)
    ]


def _alert_monitor(store: LineageStore, node: Node) -> list[Neighbour]:
    row = store.alert(node.id.removeprefix("alert:"))
    if row is None or not str(row["source"]).startswith("monitor:"):
        return []
    name = str(row["source"]).removeprefix("monitor:")
    monitors = store.monitors(name)
    other = monitor_node(name, monitors[0]["model"] if monitors else "")
    return [(other, Edge(other.id, node.id, "raised"))]


def _segment_deployment(store: LineageStore, node: Node) -> list[Neighbour]:
    row = store.segment(int(node.id.removeprefix("segment:")))
    if row is None:
        return []
    rows = store.deployments(row["model"], row["version"])
    other = deployment_node(row["model"], row["version"], rows[0]) if rows else None
    return [] if other is None else [(other, Edge(other.id, node.id, "logged"))]


def _request_segments(store: LineageStore, node: Node) -> list[Neighbour]:
    found = []
    for entry in store.request(node.id.removeprefix("request:")):
        segment = store.segment(entry["segment_pk"])
        if segment is not None:
            other = _segment_node(segment)
            found.append((other, Edge(other.id, node.id, "holds")))
    return found


for _kind, _side, _expander in (
    ("dataset", "up", lambda s, n: _dataset_runs(s, n, "output")),
    ("dataset", "down", lambda s, n: _dataset_runs(s, n, "input")),
    ("run", "up", lambda s, n: _run_datasets(s, n, "input")),
    ("run", "down", lambda s, n: _run_datasets(s, n, "output")),
    ("run", "down", _run_models),
    ("model", "up", _model_run),
    ("model", "down", _model_deployments),
    ("deployment", "up", _deployment_model),
    ("deployment", "down", _deployment_segments),
    ("deployment", "down", _deployment_monitors),
    ("segment", "up", _segment_deployment),
    ("request", "up", _request_segments),
    ("monitor", "up", _monitor_deployments),
    ("monitor", "down", _monitor_alerts),
    ("alert", "up", _alert_monitor),
):
    register_lineage_provider(_kind, _side, _expander)


# -- references and the walk -------------------------------------------------------------


def _workspace(workspace: Workspace | None) -> Workspace:
    from steward.workspace import current_workspace

    return workspace or current_workspace()


def resolve_node(ref: str, store: LineageStore) -> Node:
    """The node a reference names.

    Accepts ``run:ID``, ``dataset:NAME:V`` (or ``NAME:V``), ``model:NAME/V``,
    ``models:/NAME/V``, ``models:/NAME@ALIAS``, ``deployment:NAME/V``,
    ``segment:PK``, ``request:ID``, ``monitor:NAME``, ``alert:ID``, or a bare run id.

    Raises:
        NotFound: nothing of that reference is recorded.
        InvalidInput: the reference has no recognisable form.
    """
    kind, _, rest = ref.partition(":")
    if ref.startswith("models:/") or kind == "model":
        from steward.models.registry import resolve

        text = ref if ref.startswith("models:/") else f"models:/{rest}"
        found = resolve(text)
        return model_node(found.name, found.version, found.status.value)
    if kind in ("dataset", "data") or (kind not in KINDS and rest):
        from steward.data.versions import resolve as resolve_dataset

        found_version = resolve_dataset(rest if kind in ("dataset", "data") else ref)
        return dataset_node(found_version.name, found_version.version, found_version.rows)
    if kind == "run" or (not rest and len(ref) == 32):
        row = store.run(rest or ref)
        if row is None:
            raise NotFound(f"no run with id {rest or ref!r}.")
        return run_node(row["id"], row["name"], row["status"])
    if kind == "deployment":
        name, version = _split_model(ref, "deployment:")
        rows = store.deployments(name, version)
        if not rows:
            raise NotFound(f"model {name!r} v{version} has served no predictions.")
        return deployment_node(name, version, rows[0])
    if kind == "segment" and rest.isdigit():
        row = store.segment(int(rest))
        if row is None:
            raise NotFound(f"no prediction-log segment {rest}.")
        return _segment_node(row)
    if kind == "request":
        if not store.request(rest):
            raise NotFound(f"no prediction with request id {rest!r} in the prediction log.")
        return Node(ref, "request", rest, {})
    if kind == "monitor":
        rows = store.monitors(rest)
        if not rows:
            raise NotFound(f"no monitor named {rest!r}.")
        return monitor_node(rest, rows[0]["model"])
    if kind == "alert":
        row = store.alert(rest)
        if row is None:
            raise NotFound(f"no alert with id {rest!r}.")
        return alert_node(row)
    raise InvalidInput(
        f"{ref!r} is not a lineage reference; use run:ID, dataset:NAME:V, models:/NAME/V, "
        "request:ID, monitor:NAME or alert:ID."
    )


def lineage(
    ref: str,
    direction: str = "both",
    *,
    depth: int | None = None,
    workspace: Workspace | None = None,
) -> LineageGraph:
    """Walk the graph from ``ref`` upstream (where it came from), downstream (what came
    of it) or both, up to ``depth`` steps (all by default, at most ``MAX_NODES`` nodes).

    Raises:
        NotFound: ``ref`` names nothing recorded.
        InvalidInput: a malformed reference or direction.
    """
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction must be one of {', '.join(DIRECTIONS)}.")
    if depth is not None and depth < 1:
        raise InvalidInput("depth must be at least 1.")
    ws = _workspace(workspace)
    if ws.settings.remote:  # walked on the server, in one request
        served: Any = ws.store.governance
        graph: LineageGraph = served.lineage_graph(ref, direction, depth)
        return graph
    store = LineageStore(ws.store.engine)
    root = resolve_node(ref, store)
    nodes: dict[str, Node] = {root.id: root}
    depths = {root.id: 0}
    edges: dict[tuple[str, str, str], Edge] = {}
    truncated = False
    sides = ("up", "down") if direction == "both" else (direction,)
    for side in sides:
        step = -1 if side == "up" else 1
        queue = deque([root])
        while queue:
            node = queue.popleft()
            if depth is not None and abs(depths[node.id]) >= depth:
                continue
            for expander in _PROVIDERS.get((node.kind, side), []):
                for other, edge in expander(store, node):
                    edges[(edge.source, edge.target, edge.relation)] = edge
                    if other.id in nodes:
                        continue
                    if len(nodes) >= MAX_NODES:
                        truncated = True
                        continue
                    nodes[other.id] = other
                    depths[other.id] = depths[node.id] + step
                    queue.append(other)
    kept = tuple(e for e in edges.values() if e.source in nodes and e.target in nodes)
    return LineageGraph(root.id, direction, tuple(nodes.values()), kept, depths, truncated)


def trained_on(request_id: str, workspace: Workspace | None = None) -> list[PredictionLineage]:
    """Which model version answered ``request_id``, the run that trained it, and the
    dataset versions that run read (one entry per answering model: a shadow shares
    the id).

    Raises:
        NotFound: the prediction log holds no such request id.
    """
    ws = _workspace(workspace)
    if ws.settings.remote:
        served: Any = ws.store.governance
        remote: list[PredictionLineage] = served.prediction_lineage(request_id)
        return remote
    found = LineageStore(ws.store.engine).trained_on(request_id)
    if not found:
        raise NotFound(f"no prediction with request id {request_id!r} in the prediction log.")
    return found


__all__ = [
    "Edge",
    "LineageGraph",
    "Node",
    "PredictionLineage",
    "TrainingData",
    "lineage",
    "register_lineage_provider",
    "trained_on",
]
