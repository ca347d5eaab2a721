"""SQL for the lineage graph: the neighbours of each kind of node, and the one-query
answer to "which data trained the model that made this prediction?".

Nodes are named by references: ``dataset:NAME:V``, ``run:ID``, ``model:NAME/V``,
``deployment:NAME/V`` (a model version that served predictions), ``segment:PK``
(a file of the prediction log), ``request:ID``, ``monitor:NAME`` and
``alert:ID``. Each query returns plain tuples; ``steward.governance.lineage``
builds the graph (``LineageGraph``, a record defined here so that the REST
API can carry it) from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, and_, func, select

from steward.store import schema as t
from steward.store.engine import read_transaction
from steward.store.records import ms_to_datetime
from steward.store.serving import request_rows


@dataclass(frozen=True)
class Node:
    """One thing in the graph: ``id`` is its reference (``run:…``, ``model:name/3``…)."""

    id: str
    kind: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {"id": self.id, "kind": self.kind, "label": self.label, **self.attributes}


@dataclass(frozen=True)
class Edge:
    """``source`` flows into ``target`` (data into a run, a run into a model…)."""

    source: str
    target: str
    relation: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-friendly dict."""
        return {"source": self.source, "target": self.target, "relation": self.relation}


@dataclass(frozen=True)
class LineageGraph:
    """The nodes reached from ``root`` and the edges between them; ``depth`` says how
    far upstream (negative) or downstream (positive) each node is."""

    root: str
    direction: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    depth: dict[str, int]
    truncated: bool = False

    def node(self, node_id: str) -> Node:
        """The node with this id."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def of_kind(self, kind: str) -> list[Node]:
        """The nodes of one kind."""
        return [node for node in self.nodes if node.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": [{**node.to_dict(), "depth": self.depth[node.id]} for node in self.nodes],
            "edges": [edge.to_dict() for edge in self.edges],
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class TrainingData:
    """One dataset version a model's training run read."""

    dataset: str
    version: int
    version_id: str


@dataclass(frozen=True)
class PredictionLineage:
    """Which model version answered a request, which run trained it, on which data."""

    request_id: str
    model: str
    version: int | None
    run_id: str | None
    run_name: str | None
    data: tuple[TrainingData, ...]
    predicted_at: Any

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "request_id": self.request_id,
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "run_name": self.run_name,
            "data": [f"{item.dataset}:{item.version}" for item in self.data],
            "predicted_at": self.predicted_at.isoformat() if self.predicted_at else None,
        }


Row = dict[str, Any]


def _rows(engine: Engine, query: Any) -> list[Row]:
    with read_transaction(engine) as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


class LineageStore:
    """Neighbour queries over everything recorded."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def trained_on(self, request_id: str) -> list[PredictionLineage]:
        """For each model that answered ``request_id`` (a shadow shares it): the model
        version, its training run and the dataset versions that run read; one query."""
        pr, rm, mv = request_rows(request_id), t.registered_models, t.model_versions
        dl, dv, ds, runs = t.dataset_lineage, t.dataset_versions, t.datasets, t.runs
        query = (
            select(
                pr.c.model,
                pr.c.version,
                pr.c.at,
                runs.c.id.label("run_id"),
                runs.c.name.label("run_name"),
                ds.c.name.label("dataset"),
                dv.c.version.label("data_version"),
                dv.c.id.label("data_id"),
            )
            .select_from(pr)
            .outerjoin(rm, rm.c.name == pr.c.model)
            .outerjoin(mv, and_(mv.c.model_pk == rm.c.pk, mv.c.version == pr.c.version))
            .outerjoin(runs, runs.c.pk == mv.c.run_pk)
            .outerjoin(dl, and_(dl.c.run_pk == runs.c.pk, dl.c.direction == "input"))
            .outerjoin(dv, dv.c.pk == dl.c.version_pk)
            .outerjoin(ds, ds.c.pk == dv.c.dataset_pk)
            .order_by(pr.c.pk, ds.c.name, dv.c.version)
        )
        found: dict[tuple[str, int | None], PredictionLineage] = {}
        for row in _rows(self.engine, query):
            key = (row["model"], row["version"])
            entry = found.get(key)
            data: tuple[TrainingData, ...] = ()
            if row["dataset"] is not None:
                data = (TrainingData(row["dataset"], row["data_version"], row["data_id"]),)
            if entry is None:
                found[key] = PredictionLineage(
                    request_id,
                    row["model"],
                    row["version"],
                    row["run_id"],
                    row["run_name"],
                    data,
                    ms_to_datetime(row["at"]),
                )
            else:
                found[key] = PredictionLineage(
                    request_id,
                    entry.model,
                    entry.version,
                    entry.run_id,
                    entry.run_name,
                    entry.data + data,
                    entry.predicted_at,
                )
        return list(found.values())

    # -- datasets and runs --------------------------------------------------------

    def dataset_version(self, name: str, version: int) -> Row | None:
        """A dataset version's row (with its pk)."""
        dv, ds = t.dataset_versions, t.datasets
        rows = _rows(
            self.engine,
            select(dv.c.pk, dv.c.id, dv.c.row_count, dv.c.created_at, dv.c.created_by)
            .join(ds, ds.c.pk == dv.c.dataset_pk)
            .where(ds.c.name == name, dv.c.version == version),
        )
        return rows[0] if rows else None

    def runs_of_dataset(self, version_pk: int) -> list[Row]:
        """Runs that read (``input``) or produced (``output``) a dataset version."""
        dl, runs = t.dataset_lineage, t.runs
        return _rows(
            self.engine,
            select(runs.c.id, runs.c.name, runs.c.status, dl.c.direction)
            .join(dl, dl.c.run_pk == runs.c.pk)
            .where(dl.c.version_pk == version_pk)
            .order_by(runs.c.pk),
        )

    def run(self, run_id: str) -> Row | None:
        """A run's row."""
        runs, experiments = t.runs, t.experiments
        rows = _rows(
            self.engine,
            select(
                runs.c.pk,
                runs.c.id,
                runs.c.name,
                runs.c.status,
                runs.c.start_time,
                runs.c.created_by,
                experiments.c.name.label("experiment"),
            )
            .join(experiments, experiments.c.pk == runs.c.experiment_pk)
            .where(runs.c.id == run_id),
        )
        return rows[0] if rows else None

    def datasets_of_run(self, run_pk: int) -> list[Row]:
        """Dataset versions a run read or produced."""
        dl, dv, ds = t.dataset_lineage, t.dataset_versions, t.datasets
        return _rows(
            self.engine,
            select(ds.c.name, dv.c.version, dv.c.row_count, dl.c.direction)
            .join(dv, dv.c.pk == dl.c.version_pk)
            .join(ds, ds.c.pk == dv.c.dataset_pk)
            .where(dl.c.run_pk == run_pk)
            .order_by(ds.c.name, dv.c.version),
        )

    def models_of_run(self, run_pk: int) -> list[Row]:
        """Model versions registered from a run."""
        mv, rm = t.model_versions, t.registered_models
        return _rows(
            self.engine,
            select(rm.c.name, mv.c.version, mv.c.status, mv.c.flavor)
            .join(rm, rm.c.pk == mv.c.model_pk)
            .where(mv.c.run_pk == run_pk)
            .order_by(rm.c.name, mv.c.version),
        )

    # -- models, deployments, predictions ---------------------------------------------

    def model_version(self, name: str, version: int) -> Row | None:
        """A model version with its run id."""
        mv, rm, runs = t.model_versions, t.registered_models, t.runs
        rows = _rows(
            self.engine,
            select(
                mv.c.version,
                mv.c.status,
                mv.c.flavor,
                mv.c.created_at,
                runs.c.id.label("run_id"),
                runs.c.name.label("run_name"),
            )
            .join(rm, rm.c.pk == mv.c.model_pk)
            .outerjoin(runs, runs.c.pk == mv.c.run_pk)
            .where(rm.c.name == name, mv.c.version == version),
        )
        return rows[0] if rows else None

    def deployments(self, name: str, version: int | None = None) -> list[Row]:
        """Served versions of a model (from the prediction log): rows, first and last time."""
        s = t.prediction_segments
        query = (
            select(
                s.c.version,
                func.sum(s.c.row_count).label("rows"),
                func.min(s.c.min_time).label("first"),
                func.max(s.c.max_time).label("last"),
                func.count().label("segments"),
            )
            .where(s.c.model == name)
            .group_by(s.c.version)
            .order_by(s.c.version)
        )
        if version is not None:
            query = query.where(s.c.version == version)
        return _rows(self.engine, query)

    def segments(self, name: str, version: int | None, limit: int) -> list[Row]:
        """Prediction-log segments of a served version, newest first."""
        s = t.prediction_segments
        condition = s.c.version.is_(None) if version is None else s.c.version == version
        return _rows(
            self.engine,
            select(s.c.pk, s.c.day, s.c.row_count, s.c.min_time, s.c.max_time)
            .where(s.c.model == name, condition)
            .order_by(s.c.max_time.desc())
            .limit(limit),
        )

    def segment(self, pk: int) -> Row | None:
        """One segment's row."""
        s = t.prediction_segments
        rows = _rows(self.engine, select(s).where(s.c.pk == pk))
        return rows[0] if rows else None

    def request(self, request_id: str) -> list[Row]:
        """The log entries of a request id (a shadow's share it)."""
        pr = request_rows(request_id)
        return _rows(
            self.engine,
            select(pr.c.segment_pk, pr.c.model, pr.c.version, pr.c.at).order_by(pr.c.pk),
        )

    # -- monitors and alerts ------------------------------------------------------------

    def monitors(self, name: str | None = None) -> list[Row]:
        """Monitors (all, or the one called ``name``) with what they watch."""
        m = t.monitors
        query = select(m.c.name, m.c.model, m.c.created_at).order_by(m.c.name)
        if name is not None:
            query = query.where(m.c.name == name)
        return _rows(self.engine, query)

    def monitored_versions(self, name: str) -> list[int]:
        """The model versions a monitor's windows saw."""
        r, m = t.monitor_results, t.monitors
        rows = _rows(
            self.engine,
            select(r.c.model_version)
            .join(m, m.c.pk == r.c.monitor_pk)
            .where(m.c.name == name, r.c.model_version.is_not(None))
            .distinct(),
        )
        return sorted(row["model_version"] for row in rows)

    def alerts(self, source: str, limit: int) -> list[Row]:
        """Alerts raised by a source (``monitor:NAME``), newest first."""
        a = t.alerts
        return _rows(
            self.engine,
            select(a.c.id, a.c.rule, a.c.status, a.c.severity, a.c.fired_at)
            .where(a.c.source == source)
            .order_by(a.c.fired_at.desc())
            .limit(limit),
        )

    def alert(self, alert_id: str) -> Row | None:
        """One alert's row."""
        a = t.alerts
        rows = _rows(
            self.engine,
            select(a.c.id, a.c.source, a.c.rule, a.c.status, a.c.severity, a.c.fired_at).where(
                a.c.id == alert_id
            ),
        )
        return rows[0] if rows else None
