"""The UI over plain HTTP: every page answers, refusals are pages (never a 500), forms
need the session's CSRF value, and nothing the data holds can run in a browser."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.server.ui.conftest import PASSWORD, Site

PAGES = ("", "experiments", "datasets", "models", "deployments", "monitoring", "pipelines",
         "lineage", "predictions", "audit")  # fmt: skip


def _csrf(client: httpx.Client) -> str:
    return str(client.cookies["steward_csrf"])


def test_a_page_without_a_session_sends_the_browser_to_sign_in(site: Site) -> None:
    answer = httpx.get(f"{site.url}/ui/models?q=x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Fmodels%3Fq%3Dx"
    assert httpx.get(site.url + "/", follow_redirects=True).url.path == "/ui/login"


def test_sign_in_goes_back_only_to_a_page_of_this_ui(site: Site) -> None:
    for target, landing in (
        ("/ui/models", "/ui/models"),
        ("//evil.example/ui/", "/ui/"),
        ("https://evil.example/", "/ui/"),
        ("/ui/\\\\evil.example", "/ui/"),
    ):
        with httpx.Client(base_url=site.url) as client:
            form = {"username": "viewer", "password": PASSWORD, "next": target}
            answer = client.post("/ui/login", data=form)
            assert answer.status_code == 303
            assert answer.headers["location"] == landing


def test_a_wrong_password_shows_the_form_again_without_a_session(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        answer = client.post("/ui/login", data={"username": "viewer", "password": "x" * 12})
        assert answer.status_code == 401
        assert "steward_session" not in client.cookies
        assert 'role="alert"' in answer.text and 'value="viewer"' in answer.text


def test_a_viewer_posting_a_review_gets_a_403_page_and_nothing_changes(site: Site) -> None:
    before = site.workspace.store.registry.get_version(site.model, 1)
    with site.signed_in("viewer") as client:
        answer = client.post(
            f"/ui/models/{site.model}/1/review",
            data={"csrf_token": _csrf(client), "action": "reject", "reason": "no"},
        )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "needs the approver role" in answer.text
    assert site.workspace.store.registry.get_version(site.model, 1).status == before.status


def test_a_form_without_the_csrf_value_or_from_elsewhere_is_refused(site: Site) -> None:
    with site.signed_in("approver") as client:
        url = f"/ui/models/{site.model}/1/review"
        form = {"action": "reject", "reason": "forged"}
        assert client.post(url, data=form).status_code == 403
        foreign = client.post(
            url,
            data={**form, "csrf_token": _csrf(client)},
            headers={"origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        no_reason = client.post(url, data={"csrf_token": _csrf(client), "action": "reject"})
        assert no_reason.status_code == 400 and "needs a reason" in no_reason.text
    assert site.workspace.store.registry.get_version(site.model, 1).status.value == "approved"


def test_every_listed_page_answers_a_viewer_with_a_strict_policy(site: Site) -> None:
    with site.signed_in("viewer") as client:
        for page in PAGES:
            path = "/ui/" + page
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text[:500])
            policy = answer.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "<script>" not in answer.text  # no inline script anywhere


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/ui/runs/0123456789abcdef", 404, "no run"),
        ("/ui/models/nope", 404, "nope"),
        ("/ui/models/x/abc", 400, "a version is a number"),
        ("/ui/compare?run=a", 400, "choose between 2"),
        ("/ui/audit?since=yesterday", 400, "since"),
        ("/ui/deployments/x?days=3", 400, "days must be one of"),
        ("/ui/lineage?ref=nothing:here", 404, ""),
    ],
)
def test_bad_input_gets_a_page_that_says_what_is_wrong(
    site: Site, path: str, status: int, text: str
) -> None:
    with site.signed_in("viewer") as client:
        answer = client.get(path)
    assert answer.status_code == status, answer.text[:300]
    assert text in answer.text and "Traceback" not in answer.text
    assert str(site.workspace.settings.home) not in answer.text


def test_a_bad_filter_is_shown_on_the_runs_page(site: Site) -> None:
    with site.signed_in("viewer") as client:
        answer = client.get(
            f"/ui/experiments/{site.experiment}", params={"filter": "metrics.x >>> 1"}
        )
    assert answer.status_code == 200
    assert re.search(r'class="error" role="alert">[^<]+', answer.text)


def test_names_and_values_from_the_data_are_escaped(site: Site) -> None:
    store = site.workspace.store.tracking
    hostile = "<script>alert(1)</script>"
    experiment = store.create_experiment("xss-check", "tests", description=hostile)
    run = store.create_run(experiment.id, "xss-run", "tests", tags={"note": hostile})
    store.log_batch(run.id, "tests", params={"kind": hostile})
    with site.signed_in("viewer") as client:
        for path in (f"/ui/runs/{run.id}", "/ui/experiments", "/ui/experiments/xss-check"):
            answer = client.get(path)
            assert answer.status_code == 200
            assert hostile not in answer.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


def test_static_files_are_only_the_ui_s_own(site: Site) -> None:
    css = httpx.get(site.url + "/ui/static/ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    plotly = httpx.get(site.url + "/ui/static/plotly.min.js")
    assert plotly.status_code == 200 and b"plotly" in plotly.content[:2000].lower()
    for name in ("..%2fpages.py", "pages.py", "..%2f..%2fsecurity.py", "%2e%2e"):
        assert httpx.get(f"{site.url}/ui/static/{name}").status_code == 404


def test_a_bearer_token_reads_pages_too(site: Site) -> None:
    token = site.workspace.store.auth.create_token("viewer", "ui-test", "tests").secret
    answer = httpx.get(site.url + "/ui/models", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and site.model in answer.text


def test_sign_out_ends_the_session(site: Site) -> None:
    with site.signed_in("viewer") as client:
        session = client.cookies["steward_session"]
        answer = client.post("/ui/logout", data={"csrf_token": _csrf(client)})
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"
        client.cookies.set("steward_session", session)
        assert client.get("/ui/").status_code == 303


def test_the_monitor_page_scores_the_late_labels(site: Site) -> None:
    with site.signed_in("viewer") as client:
        answer = client.get(f"/ui/monitoring/{site.model}-drift")
    assert answer.status_code == 200
    found = re.search(r"Performance on the (\d+) labelled rows", answer.text)
    assert found and int(found.group(1)) == 100
    assert re.search(r"<th scope=\"row\">accuracy</th><td class=\"num\">0\.9</td>", answer.text)


def test_approving_a_version_whose_stored_model_changed_is_refused(site: Site) -> None:
    import steward
    from steward.workspace import workspace_scope

    workspace = site.workspace
    registry = workspace.store.registry
    taken = {v.run_id for v in registry.list_versions(site.model)}
    [spare] = [r for r in workspace.store.tracking.search_runs([site.experiment]).runs
               if r.id not in taken]  # fmt: skip
    with workspace_scope(workspace):
        version = steward.models.register(f"runs:/{spare.id}/model", site.model).version
    [model_file] = [
        a for a in workspace.store.tracking.list_artifacts(spare.id) if a.path.endswith(".skops")
    ]
    blob = workspace.blobs.path_of(model_file.digest)
    blob.chmod(0o644)
    blob.write_bytes(b"not the model that was reviewed")
    with site.signed_in("approver") as client:
        answer = client.post(
            f"/ui/models/{site.model}/{version}/review",
            data={"csrf_token": _csrf(client), "action": "approve", "reason": "looks fine"},
        )
    assert answer.status_code == 409  # UnverifiedContent: refused, nothing changed
    assert "no longer verifies" in answer.text and "Nothing was changed" in answer.text
    assert str(workspace.settings.home) not in answer.text
    assert registry.get_version(site.model, version).status.value == "pending"
