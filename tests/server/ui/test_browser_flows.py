"""The web UI driven in Debian's chromium: sign in, filter and compare runs, review a
model version, acknowledge an alert, follow a prediction back to its training data.

Screenshots of each step are kept under the session's temporary folder
(``screenshots``), as artifacts of the run, never committed.
"""

from __future__ import annotations

import re
from typing import Any

from tests.server.ui.conftest import Site, sign_in


def _shot(page: Any, site: Site, name: str) -> None:
    path = site.artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def test_filter_runs_and_compare_two_side_by_side(browser: Any, site: Site) -> None:
    page = sign_in(browser, site, "viewer")
    page.get_by_role("link", name="Experiments", exact=True).click()
    page.get_by_role("link", name=site.experiment).click()
    rows = page.locator("table.runs tbody tr")
    assert rows.count() == 3
    page.get_by_label("Filter").fill("metrics.test_roc_auc > 0.5 and name != 'logistic-regression'")
    page.get_by_role("button", name="Apply").click()
    assert rows.count() == 2
    assert "logistic-regression" not in page.locator("table.runs").inner_text()
    _shot(page, site, "runs-filtered")
    page.locator("summary", has_text="Columns").click()  # choose the columns shown
    page.get_by_label("metrics.test_roc_auc", exact=True).check()
    page.get_by_label("metrics.cv_accuracy", exact=True).uncheck()
    page.get_by_role("button", name="Apply").click()
    assert page.get_by_role("columnheader", name="cv_accuracy").count() == 0
    assert rows.count() == 2  # the filter is kept
    page.get_by_role("link", name="test_roc_auc", exact=True).click()
    assert "order=metrics.test_roc_auc" in page.url
    for box in page.get_by_role("checkbox", name=re.compile("^compare ")).all():
        box.check()
    page.get_by_role("button", name="Compare selected runs").click()
    assert page.locator("h1").inner_text() == "Compare runs"
    table = page.locator("table").first.inner_text()
    assert "random-forest" in table and "gradient-boosting" in table
    assert "metrics.test_roc_auc" in table and "differs" in table
    page.wait_for_selector(".chart .main-svg")  # plotly.js drew the histories
    _shot(page, site, "compare")
    page.context.close()


def test_an_approver_approves_and_a_viewer_is_refused(browser: Any, site: Site) -> None:
    version_url = f"{site.url}/ui/models/{site.model}/{site.pending_version}"
    viewer = sign_in(browser, site, "viewer")
    viewer.goto(version_url)
    assert viewer.get_by_role("button", name="Approve").count() == 0
    csrf = next(c["value"] for c in viewer.context.cookies() if c["name"] == "steward_csrf")
    forged = viewer.request.post(
        version_url + "/review",
        form={"csrf_token": csrf, "action": "approve", "reason": "looks fine"},
        headers={"origin": site.url},
    )
    assert forged.status == 403
    assert "approver" in forged.text() and "Traceback" not in forged.text()
    viewer.context.close()

    approver = sign_in(browser, site, "approver")
    approver.goto(version_url)
    assert "pending" in approver.locator("main p").first.inner_text()
    approver.get_by_label("Reason (kept in the audit log)").fill("beats the baseline on recall")
    approver.get_by_role("button", name="Approve").click()
    approver.wait_for_selector("text=Version approved.")
    assert "approved" in approver.locator("main p").nth(1).inner_text()
    _shot(approver, site, "approved")
    history = approver.locator("table").first.inner_text()
    assert "beats the baseline on recall" in history and "approver" in history
    approver.context.close()
    stored = site.workspace.store.registry.get_version(site.model, site.pending_version)
    assert stored.status.value == "approved"


def test_an_editor_acknowledges_the_demo_alert(browser: Any, site: Site) -> None:
    page = sign_in(browser, site, "editor")
    page.get_by_role("link", name="Monitoring", exact=True).click()
    button = page.get_by_role("button", name=re.compile("^Acknowledge alert")).first
    button.click()
    page.wait_for_url(re.compile(r"alert="))
    row = page.locator("tr.differs")
    assert "by editor" in row.inner_text()
    _shot(page, site, "alert-acknowledged")
    page.context.close()
    [alert] = site.workspace.store.monitoring.list_alerts("firing", None, 10)
    assert alert.acknowledged_by == "editor"


def test_follow_a_prediction_back_to_its_training_data(browser: Any, site: Site) -> None:
    page = sign_in(browser, site, "viewer")
    page.goto(f"{site.url}/ui/predictions")
    page.get_by_label("Request id").fill(site.request_id)
    page.get_by_role("button", name="Trace").click()
    page.locator(".trace a").first.click()  # the model version that answered
    assert re.search(rf"/ui/models/{site.model}/\d+$", page.url)
    page.get_by_role("link", name=re.compile("^[0-9a-f]{12}$")).first.click()  # its run
    assert "/ui/runs/" in page.url
    page.get_by_role("link", name="breast-cancer-train:1").click()
    assert page.locator("h1").inner_text() == "Dataset breast-cancer-train:1"
    assert page.locator("main").get_by_role("link", name="Lineage").count() == 1
    page.wait_for_selector(".chart .main-svg")
    _shot(page, site, "training-data")
    page.context.close()
