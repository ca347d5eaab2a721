"""What a server answers with its own stores rather than through one store repository.

Approving a model version or pointing an alias at it first re-reads the
version's blobs from the server's blob store: a client cannot vouch for
content, since what it holds may not be what the server keeps. Alert
channels named by a budget or a promotion policy are parsed with the
monitoring module's own rules (which refuse targets alerts may not reach).
The lineage graph is walked here, next to the database. Endpoints name these methods
(``Endpoint.server_check`` and ``Endpoint.on_server``); the protocols they
implement are declared in ``steward.api``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.store.registry import VersionStatus, parse_status

if TYPE_CHECKING:
    from steward.store.lineage import LineageGraph, PredictionLineage
    from steward.store.registry import ModelVersion
    from steward.workspace import Workspace


class ServerServices:
    """The server's own answers and checks over ``workspace``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _reverify(self, name: str, version: int, action: str) -> ModelVersion:
        from steward.models.stored import verify_stored

        found = self.workspace.store.registry.get_version(name, version)
        verify_stored(self.workspace, found, action)
        return found

    def verify_version(self, name: str, version: int, action: str) -> ModelVersion:
        """See ``steward.api.registry.ModelContent``."""
        return self._reverify(name, version, action)

    def reverify_before_status(self, arguments: Mapping[str, Any]) -> None:
        """Re-read a version's blobs before it is approved.

        Raises:
            UnverifiedContent: a blob is gone or changed (nothing is changed).
        """
        if parse_status(arguments["status"]) is VersionStatus.APPROVED:
            self._reverify(arguments["name"], arguments["version"], "approve")

    def reverify_before_alias(self, arguments: Mapping[str, Any]) -> None:
        """Re-read a version's blobs before an alias points at it.

        Raises:
            UnverifiedContent: a blob is gone or changed (nothing is changed).
        """
        action = f"point alias {arguments['alias']!r} at"
        self._reverify(arguments["name"], arguments["version"], action)

    def reverify_before_rollback(self, arguments: dict[str, Any]) -> None:
        """Re-read the blobs of the version a rollback moves an alias to, and pin the
        rollback to that version (if the alias moves meanwhile, nothing changes).

        Raises:
            UnverifiedContent: a blob is gone or changed (nothing is changed).
        """
        name, alias = arguments["name"], arguments["alias"]
        target = self.workspace.store.registry.rollback_target(name, alias)
        self._reverify(name, target, f"roll {alias!r} back to")
        arguments["to_version"] = target

    def check_trigger_kind(self, arguments: Mapping[str, Any]) -> None:
        """Refuse a trigger of a kind the agent does not know.

        Raises:
            InvalidInput: an unknown kind.
        """
        from steward.agent.triggers import KINDS

        if arguments["kind"] not in KINDS:
            raise InvalidInput(f"a trigger's kind is one of {KINDS}.")

    def check_budget_channels(self, arguments: Mapping[str, Any]) -> None:
        """Refuse a budget whose alert channels are malformed or point where alerts may not go.

        Raises:
            InvalidInput: a malformed or refused channel.
        """
        _check_channels(arguments["limits"]["channels"])

    def check_policy_channels(self, arguments: Mapping[str, Any]) -> None:
        """Refuse a promotion policy whose channels are malformed or refused.

        Raises:
            InvalidInput: a malformed or refused channel.
        """
        _check_channels(arguments["channels"])

    def lineage_graph(
        self, ref: str, direction: str = "both", depth: int | None = None
    ) -> LineageGraph:
        """See ``steward.api.governance.LineageQueries``."""
        from steward.governance.lineage import lineage

        return lineage(ref, direction, depth=depth, workspace=self.workspace)

    def prediction_lineage(self, request_id: str) -> list[PredictionLineage]:
        """See ``steward.api.governance.LineageQueries``."""
        from steward.governance.lineage import trained_on

        return trained_on(request_id, workspace=self.workspace)


def _check_channels(specs: Any) -> None:
    from steward.monitoring.monitors.definition import parse_channel  # loads NumPy: when used

    for spec in specs:
        parse_channel(spec)
