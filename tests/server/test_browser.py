"""Browser sessions: password sign-in, CSRF, origins, throttled login, closed CORS,
and error replies that reveal nothing of the server."""

from __future__ import annotations

import re

import httpx

from steward.server.security import CSRF_COOKIE, SESSION_COOKIE
from tests.server.conftest import Team

PASSWORD = "correct horse battery"


def _signed_in(team: Team) -> tuple[httpx.Client, str]:
    team.server.workspace.store.auth.update_user("editor", "tests", password=PASSWORD)
    browser = httpx.Client(base_url=team.url + "/api/v1")
    answer = browser.post("/auth/login", json={"username": "editor", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert "session" not in answer.json()
    cookie = answer.headers.get_list("set-cookie")
    session = next(c for c in cookie if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in session and "SameSite=strict" in session
    return browser, answer.json()["csrf_token"]


def test_a_signed_in_browser_reads_and_writes_with_the_csrf_value(team: Team) -> None:
    browser, csrf = _signed_in(team)
    try:
        me = browser.get("/auth/whoami").json()
        assert me == {
            "user": "editor",
            "role": "editor",
            "kind": "session",
            "token_id": me["token_id"],
            "expires_at": me["expires_at"],
        }
        assert re.fullmatch(r"[0-9a-f]{32}", me["token_id"])
        assert browser.cookies[CSRF_COOKIE] == csrf
        refused = browser.post("/experiments", json={"name": "forged"})
        assert refused.status_code == 403
        assert "x-csrf-token" in refused.json()["message"]
        wrong = browser.post("/experiments", json={"name": "f"}, headers={"x-csrf-token": "0" * 64})
        assert wrong.status_code == 403
        made = browser.post("/experiments", json={"name": "ok"}, headers={"x-csrf-token": csrf})
        assert made.status_code == 201
        assert made.json()["created_by"] == "editor"
    finally:
        browser.close()


def test_a_foreign_origin_cannot_change_anything_even_with_the_csrf_value(team: Team) -> None:
    browser, csrf = _signed_in(team)
    try:
        headers = {"x-csrf-token": csrf, "origin": "https://evil.example"}
        assert browser.post("/experiments", json={"name": "x"}, headers=headers).status_code == 403
        login = {"username": "editor", "password": PASSWORD}
        origin = {"origin": "https://evil.example"}
        assert browser.post("/auth/login", json=login, headers=origin).status_code == 403
    finally:
        browser.close()


def test_logout_ends_the_session(team: Team) -> None:
    browser, csrf = _signed_in(team)
    try:
        session = browser.cookies[SESSION_COOKIE]
        assert browser.post("/auth/logout", headers={"x-csrf-token": csrf}).status_code == 204
        browser.cookies.set(SESSION_COOKIE, session)
        assert browser.get("/auth/whoami").status_code == 401
    finally:
        browser.close()


def test_an_api_token_in_the_session_cookie_is_refused(team: Team) -> None:
    with httpx.Client(base_url=team.url + "/api/v1") as browser:
        browser.cookies.set(SESSION_COOKIE, team.tokens["admin"])
        assert browser.get("/users").status_code == 401


def test_login_is_throttled_after_repeated_failures(team: Team) -> None:
    team.server.workspace.store.auth.update_user("viewer", "tests", password=PASSWORD)
    with httpx.Client(base_url=team.url + "/api/v1") as browser:
        statuses = [
            browser.post(
                "/auth/login", json={"username": "viewer", "password": "wrong!" * 3}
            ).status_code
            for _ in range(5)
        ]
        assert statuses == [401] * 5
        good = {"username": "viewer", "password": PASSWORD}
        throttled = browser.post("/auth/login", json=good)
        assert throttled.status_code == 429
        assert "try again in" in throttled.json()["message"]
        unknown = browser.post("/auth/login", json={"username": "nobody", "password": "x" * 12})
        assert unknown.status_code == 429  # the client address is throttled too


def test_a_wrong_password_and_an_unknown_user_look_the_same(team: Team) -> None:
    team.server.workspace.store.auth.update_user("viewer", "tests", password=PASSWORD)
    with httpx.Client(base_url=team.url + "/api/v1") as browser:
        wrong = browser.post("/auth/login", json={"username": "viewer", "password": "x" * 12})
        unknown = browser.post("/auth/login", json={"username": "ghost", "password": "x" * 12})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_cors_is_closed_by_default(team: Team) -> None:
    headers = {
        "origin": "https://elsewhere.example",
        "access-control-request-method": "GET",
        "authorization": f"Bearer {team.tokens['viewer']}",
    }
    with httpx.Client(base_url=team.url + "/api/v1") as client:
        preflight = client.options("/experiments", headers=headers)
        plain = client.get("/experiments", headers=headers)
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in plain.headers


def test_errors_name_no_server_paths_and_carry_no_traceback(team: Team) -> None:
    home = str(team.server.workspace.settings.home)
    missing = "blake3:" + "0" * 64
    with team.client("viewer") as client:
        answers = [
            client.get(f"/blobs/{missing}"),
            client.get("/refs/datasets/none.json"),
            client.post("/runs/search", json={"filter": "metrics.x >>> 1"}),
            client.post("/runs/search", content=b"{not json"),
            client.get("/no/such/route"),
        ]
    for answer in answers:
        assert 400 <= answer.status_code < 500, answer.text
        body = answer.json()
        assert set(body) == {"error", "message"}
        assert home not in answer.text and "Traceback" not in answer.text
        assert "/tmp" not in answer.text
