"""Property tests from the OpenAPI document (schemathesis) with a token of each role:
no request, however odd, gets a 500; no operation ignores authentication; none
lets a role below its own through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.server.conftest import ROLES
from tests.services import create_database, served_workspace

RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """A served workspace on SQLite, then on PostgreSQL (each store refuses odd values its
    own way: a 500 on one is a 500)."""
    home: Path = tmp_path_factory.mktemp("schemathesis") / "server"
    store_url = None
    if request.param == "postgres":
        store_url = create_database(request.getfixturevalue("postgres_url_base"))
    with served_workspace(home, store_url) as server:
        tokens = {role: server.make_user(f"{role}-user", role) for role in ROLES[:3]}
        tokens["admin"] = server.admin_token
        experiment = server.workspace.store.tracking.create_experiment("seed", "tests")
        server.workspace.store.tracking.create_run(experiment.id, "seed-run", "tests")
        yield server.url, tokens


def _check(case: Any, tokens: dict[str, str]) -> None:
    least = case.operation.definition.raw.get("x-steward-role")
    public = case.operation.definition.raw.get("security") == []
    anonymous = case.call(headers={"authorization": ""})
    assert anonymous.status_code < 500, anonymous.text
    # A generated path may match no route at all (an empty segment, say): that is no
    # operation answering, so only "no route" may stand where 401 is due.
    unrouted = anonymous.status_code == 404 and "no route" in anonymous.text
    if not public and not unrouted:
        assert anonymous.status_code == 401, f"{case.operation.label}: {anonymous.text}"
    for role, token in tokens.items():
        response = case.call(headers={"authorization": f"Bearer {token}"})
        assert response.status_code < 500, f"{case.operation.label} as {role}: {response.text}"
        if least in RANK and RANK[role] < RANK[least] and not unrouted:
            assert response.status_code == 403, f"{case.operation.label} as {role}"


@pytest.mark.slow
def test_no_server_errors_and_no_operation_ignores_auth(
    served: tuple[str, dict[str, str]],
) -> None:
    url, tokens = served
    schema = schemathesis.openapi.from_url(url + "/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            _check(case, tokens)

        fuzz()
