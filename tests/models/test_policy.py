"""Promotion policy (auto or approval, notified through alert channels) and rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import steward
from steward import models
from tests.conftest import workspace_three_ways
from tests.models.promotion_helpers import labelled, local_workspace, register
from tests.services import Receiver, wait_until
from tests.serving.conftest import serve_process, stop_process

__all__ = ["local_workspace"]


def _champion_and_challenger(*, challenger_noise: float = 0.0) -> tuple[Any, Any]:
    champion = register(noise=0.35)
    models.set_alias("clf", "champion", champion.version, reason="first model")
    challenger = register(noise=challenger_noise, seed=1)
    return champion, challenger


def _gate(version: int) -> Any:
    return steward.gate(
        f"clf/{version}", data=labelled(rows=300, seed=9), target="label", exclude=["site"]
    )


def test_auto_promotes_a_passing_challenger_and_a_served_process_hot_reloads_it(
    local_workspace: Any, steward_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_STORE_URL", local_workspace.settings.store_url)
    monkeypatch.setenv("STEWARD_BLOB_URL", local_workspace.settings.blob_url)
    champion, challenger = _champion_and_challenger()
    code, out, _ = steward_cli("models", "policy", "clf", "--promote", "auto")
    assert code == 0 and "promote=auto production=approval" in out
    process, url = serve_process(
        ["models:/clf@champion", "--reload-interval", "0.2"], Path(local_workspace.settings.home)
    )
    try:
        row = labelled(rows=1).drop(columns=["label", "site"]).to_dict(orient="records")
        assert httpx.post(f"{url}/predict", json={"inputs": row}).json()["version"] == 1

        promotion = models.apply_policy(_gate(challenger.version))

        assert promotion.decision == "promoted" and promotion.aliases == ("champion",)
        assert models.resolve("models:/clf@champion").version == challenger.version

        def serves_new() -> bool:
            reply = httpx.post(f"{url}/predict", json={"inputs": row}).json()
            return bool(reply["version"] == challenger.version)

        assert wait_until(serves_new, timeout=30)
    finally:
        stop_process(process)
    # production stays with a person (the policy's default for it), so the version is
    # not approved by the machine.
    assert models.get_version("clf", challenger.version).status is models.VersionStatus.PENDING
    moves = models.alias_history("clf", "champion")
    assert [(m.from_version, m.to_version) for m in moves] == [
        (None, champion.version),
        (champion.version, challenger.version),
    ]
    assert "passed the gate" in (moves[-1].reason or "")
    events = steward.governance.audit_events(action="model.policy")
    assert events[0].from_state.startswith("promote=approval")
    assert events[0].to_state.startswith("promote=auto")


def test_approval_waits_notifies_and_promote_finishes(
    local_workspace: Any, receiver: Receiver, steward_cli: Any
) -> None:
    _, challenger = _champion_and_challenger()
    models.set_policy(
        "clf", promote="approval", production="auto", channels=[f"webhook:{receiver.url}"]
    )

    pending = models.apply_policy(_gate(challenger.version))

    assert pending.decision == "pending"
    assert models.resolve("models:/clf@champion").version != challenger.version
    assert models.resolve("models:/clf@challenger").version == challenger.version
    assert [body["event"] for body in receiver.bodies] == ["fired"]
    assert "awaits approval" in receiver.bodies[0]["message"]
    assert receiver.bodies[0]["source"] == "model:clf"

    code, _, err = steward_cli("models", "promote", f"clf/{challenger.version}")
    assert code != 0 and "--message" in err  # a reason is required
    code, out, _ = steward_cli("models", "promote", f"clf/{challenger.version}", "-m", "reviewed")
    assert code == 0, out
    assert "champion and production" in out
    version = models.get_version("clf", challenger.version)
    assert set(version.aliases) == {"champion", "production"}  # no longer a challenger
    assert version.status is models.VersionStatus.APPROVED
    assert [body["event"] for body in receiver.bodies] == ["fired", "resolved"]
    code, _, err = steward_cli("models", "promote", f"clf/{challenger.version}", "-m", "again")
    assert code == 1 and "already decided: promoted" in err


def test_a_failing_challenger_is_rejected_the_champion_kept_and_channels_told(
    local_workspace: Any, receiver: Receiver
) -> None:
    champion = register()
    models.set_alias("clf", "champion", champion.version)
    worse = register(flip=True, seed=3)
    models.set_policy("clf", promote="auto", channels=[f"webhook:{receiver.url}"])

    promotion = models.apply_policy(_gate(worse.version))

    assert promotion.decision == "rejected" and promotion.aliases == ()
    assert models.resolve("models:/clf@champion").version == champion.version
    assert models.get_version("clf", worse.version).status is models.VersionStatus.REJECTED
    assert [body["rule"] for body in receiver.bodies] == ["gate"]
    assert "failed the gate" in receiver.bodies[0]["message"]
    with pytest.raises(steward.Conflict, match="no passing gate run"):
        models.promote("clf", worse.version, "looks fine to me")


def test_rollback_moves_the_champion_back_one_step_at_a_time(
    local_workspace: Any, steward_cli: Any
) -> None:
    versions = [register(seed=seed).version for seed in range(3)]
    for version in versions:
        models.set_alias("clf", "champion", version, reason=f"v{version}")

    code, _, err = steward_cli("models", "rollback", "clf")
    assert code != 0 and "--reason" in err
    code, out, _ = steward_cli("models", "rollback", "clf", "--reason", "v3 misbehaves")
    assert code == 0 and "v3 → v2" in out
    event = models.rollback("clf", "v2 too")
    assert (event.from_version, event.to_version) == (2, 1)
    assert models.resolve("models:/clf@champion").version == 1
    code, _, err = steward_cli("models", "rollback", "clf", "--reason", "and again")
    assert code == 1 and "no earlier version" in err and "Traceback" not in err
    assert models.resolve("models:/clf@champion").version == 1
    audited = steward.governance.audit_events(action="model.alias.rollback", newest_first=False)
    assert [(e.from_state, e.to_state, e.reason) for e in audited] == [
        ("3", "2", "v3 misbehaves"),
        ("2", "1", "v2 too"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "policy", "clf", "--promote", "sometimes"], "--promote must be one of"),
        (["models", "policy", "clf", "--production", "yes"], "--production must be one of"),
        (["models", "policy", "clf", "--notify", "pager:me"], "is not understood"),
        (["models", "policy", "nope", "--promote", "auto"], "no registered model named 'nope'"),
        (["models", "rollback", "clf", "--reason", "x"], "no alias 'champion'"),
        (["models", "rollback", "clf", "--alias", "production", "--reason", " "], "needs a reason"),
    ],
)
def test_policy_and_rollback_bad_input(
    workspace: Any, steward_cli: Any, args: list[str], message: str
) -> None:
    register()
    code, _, err = steward_cli(*args)
    assert code == 1 and message in err and "Traceback" not in err
    assert models.get_policy("clf").updated_at is None  # nothing was stored


def test_rollback_through_the_team_server_too(any_workspace: Any, steward_cli: Any) -> None:
    first, second = register(), register(seed=1)
    models.approve("clf", first.version, "validated")
    models.set_alias("clf", "production", first.version, reason="go live")
    models.set_alias("clf", "champion", first.version)
    models.set_alias("clf", "champion", second.version)

    event = models.rollback("clf", "second misbehaves")

    assert (event.from_version, event.to_version) == (second.version, first.version)
    assert models.resolve("models:/clf@champion").version == first.version
    with pytest.raises(steward.Conflict, match="no earlier version"):
        models.rollback("clf", "once more", alias="production")
    code, _, err = steward_cli("models", "show", "clf/2")
    assert code == 0, err


@pytest.fixture(params=["server"])
def team_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A workspace that talks to a team server on loopback (as an approver)."""
    yield from workspace_three_ways(request, tmp_path, monkeypatch, role="approver")


def test_the_gate_and_its_policy_work_through_a_team_server(team_workspace: Any) -> None:
    champion = register()
    models.set_alias("clf", "champion", champion.version)
    challenger = register(seed=1)
    models.set_policy("clf", promote="approval")  # an approver's, on the server
    assert models.get_policy("clf").promote == "approval"
    result = steward.gate(f"clf/{challenger.version}", data=labelled(), target="label")
    assert result.record is not None and result.record.champion == f"clf/{champion.version}"
    events = steward.governance.audit_events(action="model.gate")
    assert [e.subject for e in events] == [f"model:clf/{challenger.version}"]
