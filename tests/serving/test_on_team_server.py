"""A model server whose workspace is a team server (``STEWARD_URI``): it loads the model
through the team server, writes its prediction log and feedback there, and opens its
admin routes to the team's admin tokens (asking the team server whose a token is)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import steward
from steward.serving import ServingConfig, read_predictions
from tests.conftest import workspace_three_ways
from tests.services import wait_until
from tests.serving.conftest import register_model, rows


@pytest.fixture(params=["server"])
def team_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A workspace that talks to a team server on loopback (as an approver)."""
    yield from workspace_three_ways(request, tmp_path, monkeypatch, role="approver")


def test_predictions_and_feedback_land_on_the_team_server(
    team_workspace: Any, request: pytest.FixtureRequest, start_server: Any
) -> None:
    from tests.conftest import STORED_BLOBS

    version = register_model()
    steward.models.set_alias("clf", "champion", version.version)
    config = ServingConfig(reload_interval_s=0, log_flush_interval_s=0.05)
    server = start_server("models:/clf@champion", config=config)
    ids = httpx.post(f"{server.url}/predict", json={"inputs": rows(3)}).json()["request_ids"]
    answer = httpx.post(f"{server.url}/feedback", json={"request_id": ids[0], "label": 1})
    assert answer.json() == {"accepted": 1, "unknown_request_ids": []}
    assert wait_until(lambda: len(read_predictions("clf")) == 3, timeout=20)
    log = read_predictions("clf")
    assert list(log["request_id"]) == ids and log.loc[0, "label"] == 1
    # On the team server's own stores, not in the model server's folder.
    team_blobs = request.node.stash[STORED_BLOBS]
    segments = team_workspace.store.serving.list_segments("clf")
    assert sum(s.row_count for s in segments) == 3
    assert all(team_blobs.exists(s.blob_digest) for s in segments)

    reload = f"{server.url}/admin/reload"
    approver = {"authorization": f"Bearer {team_workspace.settings.token}"}
    # The team server knows the token (403: an approver, not an admin); a token it does not
    # know is refused (401). The model server's own folder holds no users at all.
    assert httpx.post(reload, headers=approver).status_code == 403
    assert httpx.post(reload, headers={"authorization": "Bearer stw_unknown"}).status_code == 401
