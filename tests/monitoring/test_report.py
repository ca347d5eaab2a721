"""The HTML report is self-contained and renders its plots in real headless chromium."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steward.monitoring import drift, estimate_performance, performance

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def windows() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 3000

    def window(shift: float) -> pd.DataFrame:
        proba = np.clip(rng.uniform(0, 1, n) + shift / 4, 0, 1)
        return pd.DataFrame(
            {
                "age": rng.normal(40 + 10 * shift, 10, n),
                "clinic": rng.choice(["north", "south", "east"], n),
                "proba": proba,
                "pred": (proba >= 0.5).astype(int),
                "label": (rng.uniform(0, 1, n) < proba).astype(int),
            }
        )

    return window(0.0), window(1.0)


@pytest.mark.slow
def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    reference, current = windows()
    result = drift(reference, current, prediction="proba", target="label")
    realised = performance(
        current, target="label", prediction="pred", proba="proba", segment="clinic"
    )
    estimated = estimate_performance(current, proba="proba", reference=reference, target="label")
    page_path = result.to_html(tmp_path / "report.html", performance=realised, estimated=estimated)
    text = page_path.read_text()
    assert "<script src=" not in text  # nothing fetched: plotly.js is inline
    assert "Data quality" in text and "Estimated before labels" in text

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_path.as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
            plots = page.locator(".js-plotly-plot")
            assert plots.count() == 5  # age, clinic, proba, pred, label
            for i in range(plots.count()):
                assert plots.nth(i).locator("svg.main-svg").count() >= 1
                assert plots.nth(i).locator("g.point, path.point, .bars path").count() > 0
            assert page.locator("tr.drifted").count() >= 1
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
