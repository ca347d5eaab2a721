"""Governance over HTTP: stored check runs, model reports, and the lineage graph.

Lineage is walked on the server (``steward.governance.lineage`` needs the
database, and one request beats a round trip per node): the two lineage
calls are answered by the server's own services, not a store repository.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.errors import InvalidInput
from steward.store.governance import GovernanceStore
from steward.store.lineage import LineageGraph, PredictionLineage
from steward.store.validation import check_name

REPORT_KINDS = ("fairness", "explanation")
"""The kinds of report a model version keeps."""


def _check_checks(arguments: dict[str, Any]) -> None:
    check_name("check suite", arguments["suite"])  # a result's name is display text


def _check_report(arguments: dict[str, Any]) -> None:
    if arguments["kind"] not in REPORT_KINDS:
        raise InvalidInput(f"a report's kind is one of {REPORT_KINDS}.")
    check_name("method", arguments["method"])


class LineageQueries(Protocol):
    """The lineage graph, walked by the server's own services (``steward.server.services``)."""

    def lineage_graph(
        self, ref: str, direction: str = "both", depth: int | None = None
    ) -> LineageGraph:
        """Walk the lineage graph from ``ref`` (see ``steward.governance.lineage``)."""
        ...

    def prediction_lineage(self, request_id: str) -> list[PredictionLineage]:
        """The model version, run and data behind one prediction (see ``trained_on``)."""
        ...


_governance = partial(Endpoint, "governance")
_read, _write = Role.VIEWER, Role.EDITOR

GOVERNANCE = Repository(
    "governance",
    (
        _governance(
            GovernanceStore.record_checks, "POST", "/check-runs", _write, _check_checks, 201
        ),
        _governance(GovernanceStore.check_runs, "POST", "/check-runs/search", _read),
        _governance(
            GovernanceStore.add_report,
            "POST",
            "/models/{name}/versions/{version}/reports",
            _write,
            _check_report,
            201,
        ),
        _governance(
            GovernanceStore.reports, "GET", "/models/{name}/versions/{version}/reports", _read
        ),
        _governance(LineageQueries.lineage_graph, "GET", "/lineage-graph", _read, on_server=True),
        _governance(
            LineageQueries.prediction_lineage,
            "GET",
            "/lineage/predictions/{request_id}",
            _read,
            on_server=True,
        ),
    ),
)
