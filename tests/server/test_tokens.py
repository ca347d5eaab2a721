"""Tokens: hashed at rest, shown once, expiring, revocable; users can be disabled."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from steward.auth import hash_token
from steward.errors import Conflict, PermissionDenied, Unauthenticated
from steward.store import schema as t
from tests.server.conftest import Team


def test_tokens_are_stored_only_as_their_hash(team: Team) -> None:
    engine = team.server.workspace.store.engine
    with engine.connect() as connection:
        stored = [row[0] for row in connection.execute(select(t.api_tokens.c.token_hash))]
    for token in team.tokens.values():
        assert token not in stored
        assert hash_token(token) in stored
    with team.client("admin") as client:
        listed = client.get("/tokens").json()
    assert listed and all("secret" not in item and "token_hash" not in item for item in listed)


def test_a_revoked_token_stops_working_at_once(team: Team) -> None:
    with team.client("admin") as admin:
        mine = admin.post("/tokens", json={"user": "editor", "name": "laptop"}).json()
        assert mine["token"]["user"] == "editor"
    team.tokens["laptop"] = mine["secret"]
    with team.client("laptop") as client:
        assert client.get("/auth/whoami").json()["user"] == "editor"
    with team.client("admin") as admin:
        assert admin.delete(f"/tokens/{mine['token']['id']}").json()["revoked_at"] is not None
    with team.client("laptop") as client:
        answer = client.get("/experiments")
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"


def test_an_expired_token_is_refused(team: Team) -> None:
    auth = team.server.workspace.store.auth
    team.tokens["short"] = auth.create_token("viewer", "short", "tests", 1.5 / 86_400).secret
    with team.client("short") as client:
        assert client.get("/experiments").status_code == 200
        time.sleep(1.6)
        answer = client.get("/experiments")
    assert answer.status_code == 401
    assert "expired" in answer.json()["message"]


def test_a_disabled_user_is_locked_out_and_the_last_admin_stays(team: Team) -> None:
    with team.client("editor") as client:
        assert client.get("/experiments").status_code == 200  # its lookup is now cached
    with team.client("admin") as admin:
        assert admin.patch("/users/editor", json={"active": False}).status_code == 200
        assert admin.patch("/users/admin", json={"role": "viewer"}).status_code == 409
        assert admin.patch("/users/admin", json={"active": False}).status_code == 409
    with team.client("editor") as client:
        assert client.get("/experiments").status_code == 401


def test_role_changes_apply_to_existing_tokens(team: Team) -> None:
    with team.client("viewer") as client:
        assert client.post("/experiments", json={"name": "x"}).status_code == 403
    with team.client("admin") as admin:
        assert admin.patch("/users/viewer", json={"role": "editor"}).json()["role"] == "editor"
    with team.client("viewer") as client:
        assert client.post("/experiments", json={"name": "x"}).status_code == 201


def test_token_lifetimes_are_bounded(team: Team) -> None:
    with team.client("admin") as admin:
        for days in (0, -1, 3651):
            body = {"user": "viewer", "name": "n", "expires_in_days": days}
            assert admin.post("/tokens", json=body).status_code == 400
        body = {"user": "viewer", "name": "n", "kind": "session"}
        assert admin.post("/tokens", json=body).status_code == 400


def test_authorize_is_the_check_other_servers_share(team: Team) -> None:
    from steward.access import authorize
    from steward.auth import Role

    workspace: Any = team.server.workspace
    assert authorize(team.tokens["approver"], "approver", workspace).user == "approver"
    assert authorize(team.tokens["admin"], Role.EDITOR, workspace).role is Role.ADMIN
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        authorize(team.tokens["editor"], "admin", workspace)
    for bad in (None, "", "stw_nope"):
        with pytest.raises(Unauthenticated):
            authorize(bad, "viewer", workspace)


def test_authorize_against_a_team_server_asks_that_server(
    team: Team, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from steward.access import authorize
    from steward.workspace import open_workspace

    monkeypatch.setenv("STEWARD_URI", team.url)
    monkeypatch.delenv("STEWARD_TOKEN", raising=False)
    remote = open_workspace(home=tmp_path / "model-server")
    try:
        assert remote.settings.remote
        found = authorize(team.tokens["admin"], "admin", remote)
        assert found.user == "admin" and found.token_id
        with pytest.raises(PermissionDenied, match="needs the admin role"):
            authorize(team.tokens["editor"], "admin", remote)
        with pytest.raises(Unauthenticated):
            authorize("stw_nope", "viewer", remote)
    finally:
        remote.close()


def test_users_make_and_revoke_their_own_tokens_and_only_admins_anyones(team: Team) -> None:
    auth = team.server.workspace.store.auth
    [editors] = auth.list_tokens("editor")
    with team.client("viewer") as viewer:
        made = viewer.post("/auth/tokens", json={"name": "laptop", "expires_in_days": 7})
        assert made.status_code == 201, made.text
        secret, mine = made.json()["secret"], made.json()["token"]
        assert mine["user"] == "viewer" and mine["created_by"] == "viewer"
        headers = {"authorization": f"Bearer {secret}"}
        assert httpx.get(f"{team.url}/api/v1/auth/whoami", headers=headers).json()["user"] == (
            "viewer"
        )
        listed = viewer.get("/auth/tokens").json()
        assert {token["user"] for token in listed} == {"viewer"}
        assert mine["id"] in {token["id"] for token in listed} and "secret" not in listed[0]
        for odd in ({"name": "x", "user": "admin"}, {"name": "x", "expires_in_days": 10**6}):
            assert viewer.post("/auth/tokens", json=odd).status_code == 400
        # Another user's token is not the viewer's to see or revoke: it does not exist for them.
        assert viewer.delete(f"/auth/tokens/{editors.id}").status_code == 404
        assert viewer.delete(f"/tokens/{editors.id}").status_code == 403
        revoked = viewer.delete(f"/auth/tokens/{mine['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        assert httpx.get(f"{team.url}/api/v1/auth/whoami", headers=headers).status_code == 401
    with team.client("editor") as editor:
        assert editor.get("/auth/whoami").status_code == 200
    with team.client("admin") as admin:
        assert admin.delete(f"/tokens/{editors.id}").status_code == 200
    with team.client("editor") as editor:
        assert editor.get("/auth/whoami").status_code == 401


def test_the_bootstrap_token_is_made_only_when_no_admin_can_sign_in(team: Team) -> None:
    import io

    from steward.server.run import bootstrap

    workspace = team.server.workspace
    assert bootstrap(workspace, team.url, io.StringIO()) is None
    with team.client("admin") as admin:
        [token] = [item for item in admin.get("/tokens?user=admin").json()]
        admin.delete(f"/tokens/{token['id']}")
    out = io.StringIO()
    secret = bootstrap(workspace, team.url, out)
    assert secret is not None and secret in out.getvalue()
    team.tokens["admin"] = secret
    with team.client("admin") as admin:
        assert admin.get("/users").status_code == 200


def test_user_names_are_unique(team: Team) -> None:
    with pytest.raises(Conflict):
        team.server.workspace.store.auth.create_user("viewer", "viewer", "tests")


def test_a_change_through_another_server_process_applies_within_the_cache_lifetime(
    team: Team,
) -> None:
    """Each server process reuses a token's lookup briefly; a revocation made through
    another process (here: a second store on the same database) applies once it lapses,
    and one made through this process applies at once."""
    from steward.store.auth import AuthStore

    engine = team.server.workspace.store.engine
    here, elsewhere = AuthStore(engine, principal_ttl_s=0.5), AuthStore(engine)
    token = elsewhere.create_token("editor", "cached", "tests")
    assert here.authenticate(token.secret).user == "editor"  # now cached here
    elsewhere.revoke_token(token.token.id, "tests")
    assert here.authenticate(token.secret).user == "editor"  # within the lifetime
    time.sleep(0.6)
    with pytest.raises(Unauthenticated, match="revoked"):
        here.authenticate(token.secret)
    again = here.create_token("editor", "again", "tests")
    assert here.authenticate(again.secret).role.label == "editor"
    here.update_user("editor", "tests", role="viewer")
    assert here.authenticate(again.secret).role.label == "viewer"
    here.revoke_token(again.token.id, "tests")
    with pytest.raises(Unauthenticated, match="revoked"):
        here.authenticate(again.secret)
