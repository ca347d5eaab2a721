"""Every route has an explicit authorization decision, and it holds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from steward.api.repositories import REPOSITORIES
from steward.auth import Role
from steward.server.app import create_app
from steward.server.security import ACCESS_ATTRIBUTE
from tests.server.conftest import ROLES, Team

PUBLIC = {
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("GET", "/ui/static/{name}"),
}


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    found = []
    for route in app.routes:
        assert isinstance(route, APIRoute), f"{route!r} is not an API route"
        for method in sorted(route.methods):
            found.append((method, route.path, route.endpoint))
    return found


def _least_role(method: str, path: str, access: str) -> Role | None:
    if access == "public":
        return None
    if access.startswith("declared:"):
        repository, name = access.removeprefix("declared:").split(".")
        [endpoint] = [
            e for r in REPOSITORIES if r.name == repository for e in r.endpoints if e.name == name
        ]
        return endpoint.role
    return Role.parse(access)


def _concrete(path: str) -> str:
    return re.sub(r"{\w+(:path)?}", "x", path)


def test_every_route_declares_its_access(workspace: Any) -> None:
    app = create_app(workspace)
    routes = _routes(app)
    assert len(routes) >= 50
    declared = {e.operation_id for r in REPOSITORIES for e in r.endpoints}
    seen = set()
    for method, path, handler in routes:
        access = getattr(handler, ACCESS_ATTRIBUTE, None)
        assert access is not None, f"{method} {path} has no authorization decision"
        assert (access == "public") == ((method, path) in PUBLIC), f"{method} {path}: {access}"
        seen.add(access.removeprefix("declared:"))
    assert declared <= seen, f"declared endpoints without a route: {declared - seen}"


# Not JSON, and a NUL inside: a route that read the body before deciding who may call it
# would answer 400 where 401 or 403 is due.
HOSTILE_BODY = b'{"digests": ["\\u0000"'


def test_each_route_refuses_callers_below_its_role(team: Team) -> None:
    app_routes = _routes(create_app(team.server.workspace))
    clients = {role: team.client(role) for role in (None, *ROLES)}
    checked = 0
    for method, path, handler in app_routes:
        least = _least_role(method, path, getattr(handler, ACCESS_ATTRIBUTE))
        concrete = _concrete(path)
        url = concrete.removeprefix("/api/v1") if path.startswith("/api/") else team.url + concrete
        page = path.startswith("/ui/")
        body = None if method == "GET" else HOSTILE_BODY
        for role, client in clients.items():
            status = client.request(method, url, content=body).status_code
            if least is None:
                assert status not in (401, 403), f"{method} {path} is public, got {status}"
            elif role is None:
                # A page sends a browser without a session to the sign-in form.
                expected = 303 if page and method == "GET" else 401
                assert status == expected, f"{method} {path} without a token answered {status}"
            elif Role.parse(role) < least:
                assert status == 403, f"{method} {path} as {role} answered {status}"
            else:
                assert status not in (401, 403), f"{method} {path} as {role} answered {status}"
            checked += 1
    assert checked >= 150


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("viewer", False), ("editor", True), ("approver", True), ("admin", True)],
)
def test_logging_needs_the_editor_role(team: Team, role: str, allowed: bool) -> None:
    with team.client(role) as client:
        answer = client.post("/experiments", json={"name": f"by-{role}"})
        assert answer.status_code == (201 if allowed else 403)
        if allowed:
            assert answer.json()["created_by"] == role
        else:
            assert answer.json()["error"] == "PermissionDenied"
        assert client.get("/experiments").status_code == 200


@pytest.mark.parametrize("role", ["viewer", "editor", "approver"])
def test_only_admins_list_users(team: Team, role: str) -> None:
    with team.client(role) as client:
        assert client.get("/users").status_code == 403
        assert client.get("/tokens").status_code == 403
        assert client.post("/users", json={"name": "eve", "role": "admin"}).status_code == 403
    with team.client("admin") as client:
        names = [user["name"] for user in client.get("/users").json()]
        assert names == ["admin", "viewer", "editor", "approver"]
        assert "eve" not in names


def test_the_author_is_the_token_owner_whatever_the_client_claims(team: Team) -> None:
    with team.client("editor") as client:
        answer = client.post("/experiments", json={"name": "e", "actor": "mallory"})
        assert answer.status_code == 400  # actor is never taken from a request
        created = client.post("/experiments", json={"name": "e"}).json()
    assert created["created_by"] == "editor"


def _register_versions(team: Team, name: str, count: int) -> None:
    """Log ``count`` versions of a small model into the server's own workspace."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import steward
    from steward.workspace import workspace_scope

    X = np.random.default_rng(0).normal(size=(40, 2))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    with workspace_scope(team.server.workspace):
        for _ in range(count):
            with steward.start_run():
                steward.models.log(model, input_example=X[:2], register=name)


def test_review_rules_and_roles_hold_for_any_client(team: Team) -> None:
    _register_versions(team, "triage", 2)
    production = "/models/triage/aliases/production"
    with team.client("editor") as editor:
        assert editor.put("/models/triage/aliases/champion", json={"version": 1}).status_code == 200
        refused = editor.put(production, json={"version": 1, "reason": "go"})
        assert refused.status_code == 403 and "approver" in refused.json()["message"]
        approve = {"status": "approved", "reason": "reviewed"}
        assert editor.post("/models/triage/versions/1/status", json=approve).status_code == 403
        assert (
            editor.post("/models/triage/versions/2/status", json={"status": "archived"}).status_code
            == 200
        )
    with team.client("approver") as approver:
        sneaky = {"version": 1, "reason": "go", "required_status": None}
        assert approver.put(production, json=sneaky).status_code == 400  # not the caller's to say
        unapproved = approver.put(production, json={"version": 1, "reason": "go"})
        assert unapproved.status_code == 409  # production goes only to an approved version
        assert approver.put(production, json={"version": 1}).status_code == 400  # no reason
        no_reason = approver.post("/models/triage/versions/1/status", json={"status": "approved"})
        assert no_reason.status_code == 400
        approve = {"status": "approved", "reason": "reviewed"}
        assert approver.post("/models/triage/versions/1/status", json=approve).status_code == 200
        moved = approver.put(production, json={"version": 1, "reason": "go"})
        assert moved.status_code == 200 and moved.json()["actor"] == "approver"
        reject = {"status": "rejected", "reason": "oops"}
        held = approver.post("/models/triage/versions/1/status", json=reject)
        assert held.status_code == 409  # a version holding production cannot be rejected
        assert approver.delete(production).status_code == 400  # removal needs a reason
        bogus = approver.post("/models/triage/versions/1/status", json={"status": "bogus"})
        assert bogus.status_code == 400


def test_the_server_rereads_its_own_blobs_before_approving_or_aliasing(team: Team) -> None:
    _register_versions(team, "triage", 1)
    workspace = team.server.workspace
    version = workspace.store.registry.get_version("triage", 1)
    assert version.run_id is not None
    [digest] = [
        item.digest
        for item in workspace.tracking.list_artifacts(version.run_id)
        if item.path.endswith("model.skops")
    ]
    blob = workspace.blobs.path_of(digest)
    blob.chmod(0o644)
    blob.write_bytes(b"rotten" + blob.read_bytes()[6:])
    approve = {"status": "approved", "reason": "reviewed"}
    with team.client("approver") as approver:
        for answer in (
            approver.post("/models/triage/versions/1/status", json=approve),
            approver.put("/models/triage/aliases/champion", json={"version": 1}),
            approver.post("/models/triage/versions/1/verify", json={"action": "bundle"}),
        ):
            assert answer.status_code == 409, answer.text
            assert answer.json()["error"] == "UnverifiedContent"
            assert "model.skops" in answer.json()["message"]
            assert str(workspace.settings.home) not in answer.text
        assert approver.get("/models/triage/versions/1").json()["status"] == "pending"
        assert approver.get("/models/triage/alias-history").json() == []


def test_a_promotion_policy_needs_an_approver_and_sound_values(team: Team) -> None:
    _register_versions(team, "triage", 1)
    policy = "/models/triage/policy"
    sound = {"promote": "auto", "production": "approval", "channels": ["log"]}
    with team.client("editor") as editor:
        refused = editor.put(policy, json=sound)
        assert refused.status_code == 403 and "approver" in refused.json()["message"]
        decision = editor.post("/gates/nope/decision", json={"decision": "yes", "reason": "x"})
        assert decision.status_code == 400 and "decision is one of" in decision.text
    with team.client("approver") as approver:
        odd = approver.put(policy, json={**sound, "promote": "sometimes"})
        assert odd.status_code == 400 and "promote must be one of" in odd.text
        pager = approver.put(policy, json={**sound, "channels": ["pager:me"]})
        assert pager.status_code == 400 and "'pager:me'" in pager.text
        assert approver.get(policy).json()["promote"] == "approval"  # nothing was stored
        assert approver.put(policy, json=sound).status_code == 200
        stored = approver.get(policy).json()
    assert stored["promote"] == "auto" and stored["updated_by"] == "approver"


def test_no_route_is_hidden_behind_an_earlier_one(workspace: Any) -> None:
    from starlette.routing import Match

    routes = [route for route in create_app(workspace).routes if isinstance(route, APIRoute)]
    for route in routes:
        for method in route.methods:
            scope = {"type": "http", "path": _concrete(route.path), "method": method}
            first = next(r for r in routes if r.matches(scope)[0] == Match.FULL)
            assert first is route, f"{method} {route.path} is answered by {first.path}"


HOST_ONLY = {
    ("references", "references"),  # for gc, which runs on the server's host
    ("audit", "iter_events"),  # a generator; an export pages through audit.events
    ("audit", "iter_rows"),
    ("auth", "authenticate"),  # the server's own credential checks
    ("auth", "check_password"),
    ("auth", "needs_bootstrap"),
}


def test_every_store_method_is_served_or_kept_on_the_host_on_purpose() -> None:
    import inspect

    from steward.store.metadata import MetadataStore

    declared = {(r.name, e.name) for r in REPOSITORIES for e in r.endpoints if not e.on_server}
    repositories = re.findall(
        r"self\.(\w+) = (\w+)\(self\.engine\)", inspect.getsource(MetadataStore)
    )
    assert len(repositories) >= 10
    module = inspect.getmodule(MetadataStore)
    public = {
        (name, method)
        for name, cls in repositories
        for method, _ in inspect.getmembers(getattr(module, cls), inspect.isfunction)
        if not method.startswith("_")
    }
    assert public - declared == HOST_ONLY, "declare the new store method in steward/api"
