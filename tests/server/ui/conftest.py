"""A served demo workspace with a user of each role, and one headless chromium.

The demo (``steward demo``) fills the store with everything the pages show:
datasets, runs, a registered and approved champion, served predictions with
feedback, a monitor whose alert fired. A second version waits for review and
a small pipeline runs twice (the second time from the cache).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.monitoring.test_report import ARGS as CHROMIUM_ARGS
from tests.monitoring.test_report import CHROMIUM
from tests.services import served_workspace

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "editor", "approver")


@dataclass
class Site:
    """The served demo store and what the tests look for in it."""

    url: str
    workspace: Any
    model: str
    pending_version: int
    request_id: str
    experiment: str
    artifacts: Path
    fired_by: int
    """The dataset version that made the retraining trigger fire."""

    @contextmanager
    def signed_in(self, role: str) -> Iterator[httpx.Client]:
        """An HTTP client with a browser session of ``role`` (cookies like a browser)."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            answer = client.post(
                "/ui/login", data={"username": role, "password": PASSWORD, "next": "/ui/"}
            )
            assert answer.status_code == 303, answer.text
            yield client


def _fill(home: Path) -> tuple[int, str, int]:
    """Run the demo into ``home``, register a second version, run a pipeline twice,
    fire a retraining trigger, send late labels for the drifted stream, run its monitor
    again, and fire an alert on the accuracy those labels give."""
    from rich.console import Console

    import steward
    from steward.demo import REGISTERED_MODEL, run_demo
    from steward.monitoring import AlertManager
    from steward.serving import read_predictions
    from steward.workspace import open_workspace, use_workspace

    workspace = open_workspace(home=home, actor="demo")
    use_workspace(workspace)
    try:
        result = run_demo(seed=0, console=Console(quiet=True))
        other = next(i for n, i in result.run_ids.items() if n != result.best_model)
        pending = steward.models.register(f"runs:/{other}/model", REGISTERED_MODEL).version
        steward.set_experiment("pipelines")
        for _ in range(2):
            steward.pipelines.run("tests.pipelines.flows:stats", {"n": 50})
        fired_by = _retrain_on_new_data(workspace, REGISTERED_MODEL)
        log = read_predictions(REGISTERED_MODEL)
        request_id = str(log["request_id"].iloc[0])
        # Labels for the drifted stream arrive late; the monitor's next window scores them.
        late = log.tail(100)
        labels = [(rid, str(int(p) ^ (i % 10 == 0))) for i, (rid, p) in enumerate(
            zip(late["request_id"], late["prediction"], strict=True))]  # fmt: skip
        workspace.store.serving.add_feedback(labels, "labeller")
        monitor = f"{REGISTERED_MODEL}-drift"
        window = steward.monitoring.run_monitor(monitor)
        # The demo's own alert is resolved by its closed loop; a rule on the late labels'
        # accuracy (0.9: a tenth of them disagree) fires a new one for the pages to show.
        alerts = AlertManager(["performance.accuracy < 0.95"], source=f"monitor:{monitor}")
        alerts.evaluate(window.metrics)
    finally:
        use_workspace(None)
        workspace.close()
    return pending, request_id, fired_by


def _retrain_on_new_data(workspace: Any, model: str) -> int:
    """A trigger on new training data with a budget; a new version makes the agent fire.

    Returns:
        The number of the dataset version that fired it.
    """
    from sklearn.datasets import load_breast_cancer

    import steward
    from steward.agent import Agent, set_budget

    steward.triggers.add(
        "retrain-on-new-data",
        "tests.pipelines.flows:stats",
        new_data="breast-cancer-train",
        params={"n": 20},
        model=model,
    )
    set_budget(model, max_per_day=2, max_per_week=5, reset=True)  # not the demo's interval
    agent = Agent(workspace)
    try:
        agent.tick()  # the versions before the trigger are not causes
        frame = load_breast_cancer(as_frame=True).frame.head(300)
        added = steward.data.add("breast-cancer-train", frame).version
        (firing,) = agent.tick().firings
        assert firing.state.value == "succeeded", firing.reason
    finally:
        agent.close()
    return added


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo store served on loopback, with users viewer, editor and approver."""
    from steward.demo import EXPERIMENT, REGISTERED_MODEL

    root = tmp_path_factory.mktemp("ui")
    home = root / "home"
    saved = {key: os.environ.get(key) for key in ("STEWARD_HOME", "STEWARD_URI")}
    os.environ["STEWARD_HOME"] = str(home)
    os.environ.pop("STEWARD_URI", None)
    try:
        pending, request_id, fired_by = _fill(home)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    with served_workspace(home) as server:
        auth = server.workspace.store.auth
        for role in ROLES:
            auth.create_user(role, role, "tests", password=PASSWORD)
        artifacts = root / "screenshots"
        artifacts.mkdir()
        yield Site(
            server.url,
            server.workspace,
            REGISTERED_MODEL,
            pending,
            request_id,
            EXPERIMENT,
            artifacts,
            fired_by,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian chromium per test module (never a downloaded browser).

    Not per session: Playwright's sync API keeps an event loop running on the main
    thread while it is open, and any later test of the same worker that calls
    ``asyncio.run`` (the micro-batcher's) would fail.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def sign_in(browser: Any, site: Site, role: str, bypass_csp: bool = False) -> Any:
    """A fresh browser page (its own cookies) signed in as ``role`` through the form."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=bypass_csp)
    page = context.new_page()
    page.goto(site.url + "/ui/")
    assert "/ui/login" in page.url  # not signed in: sent to the form, then back
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + "/ui/")
    return page
