"""Every page scanned with axe-core in chromium: no serious or critical violation, and
each page fits a 1366x768 screen without sideways scrolling.

axe-core 4.14.1 is vendored from npm (``npm pack axe-core``; only ``axe.min.js`` and
its MPL-2.0 licence are kept) so the scan runs offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.server.ui.conftest import Site, sign_in

AXE = Path(__file__).parent / "axe" / "axe.min.js"


def _pages(site: Site) -> list[str]:
    run_id = site.workspace.store.tracking.search_runs(max_results=1).runs[0].id
    pipeline = site.workspace.store.pipelines.list_runs(limit=1)[0].id
    model = site.model
    return [
        "/ui/",
        "/ui/experiments",
        f"/ui/experiments/{site.experiment}",
        f"/ui/runs/{run_id}",
        "/ui/compare?"
        + "&".join(f"run={r.id}" for r in site.workspace.store.tracking.search_runs().runs[:2]),
        "/ui/datasets",
        "/ui/datasets/breast-cancer-train",
        "/ui/datasets/breast-cancer-train/1",
        "/ui/datasets/breast-cancer-train/diff?a=1&b=1",
        "/ui/models",
        f"/ui/models/{model}",
        f"/ui/models/{model}/1",
        "/ui/deployments",
        f"/ui/deployments/{model}",
        "/ui/monitoring",
        f"/ui/monitoring/{model}-drift",
        "/ui/pipelines",
        f"/ui/pipelines/{pipeline}",
        f"/ui/lineage?ref=run:{run_id}",
        f"/ui/predictions?request_id={site.request_id}",
        "/ui/audit",
        "/ui/login",
    ]


def test_no_page_has_a_serious_accessibility_violation(browser: Any, site: Site) -> None:
    page = sign_in(browser, site, "approver", bypass_csp=True)  # axe is injected inline
    script = AXE.read_text()
    found = {}
    for path in _pages(site):
        answer = page.goto(site.url + path)
        assert answer is not None and answer.status == 200, path
        page.add_script_tag(content=script)
        result = page.evaluate("async () => await axe.run(document)")
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:120]})"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            found[path] = serious
        name = path.strip("/").replace("/", "_").split("?")[0] or "overview"
        page.screenshot(path=str(site.artifacts / f"page-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 1366, f"{path} is {overflow}px wide"
    page.context.close()
    assert not found, found


def test_the_keyboard_reaches_the_content_and_the_forms(browser: Any, site: Site) -> None:
    page = sign_in(browser, site, "viewer")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    page.goto(f"{site.url}/ui/experiments/{site.experiment}")
    page.get_by_label("Filter").focus()
    page.keyboard.type("name = 'random-forest'")
    page.keyboard.press("Enter")  # submits the filter form
    page.wait_for_url("**filter=*")
    assert page.locator("table.runs tbody tr").count() == 1
    page.context.close()
