"""The governance part of ``steward demo``: a data check, model and fairness checks, an
explanation, and the audit log's verification.

The breast-cancer data has no sensitive attribute, so the demo labels each test
row with a synthetic clinic (seeded, evenly spread) to show how a fairness
check across sites reads; it says so when it prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLINICS = ("clinic-A", "clinic-B", "clinic-C")


@dataclass(frozen=True)
class GovernanceSummary:
    """What the governance steps found."""

    data_checks: dict[str, tuple[bool, int, int]]
    model_checks: tuple[tuple[str, bool, float | None], ...]
    fairness: dict[str, float]
    fairness_warnings: tuple[str, ...]
    top_features: tuple[tuple[str, float], ...]
    explanation_seconds: float
    audit_events: int = 0
    audit_intact: bool = False
    audit_head: str = ""


def check_data(versions: list[Any]) -> dict[str, tuple[bool, int, int]]:
    """Suggest a suite from the training version's profile, run it on every version and
    store the results: ref → (passed, failing checks, checks)."""
    from dataclasses import replace

    from steward import checks

    suggested = checks.suggest_suite(versions[0])
    # The splits differ in size by design: check their content, not their row counts.
    suite = checks.Suite.from_spec(replace(suggested.spec, rows=None))
    outcome = {}
    for version in versions:
        report, _ = checks.run_suite(suite, version)
        outcome[version.ref] = (report.passed, len(report.failed), len(report.results))
    return outcome


def govern_champion(
    model: str, version: int, X_test: Any, y_test: Any, seed: int
) -> GovernanceSummary:
    """Check, explain and judge the fairness of the champion on the test split, storing
    every result with the model version (its card shows them)."""
    import numpy as np

    from steward import checks, models
    from steward.governance import explain, fairness_report, save_fairness_report

    rng = np.random.default_rng(seed)
    data = X_test.assign(target=np.asarray(y_test), clinic=rng.choice(CLINICS, len(X_test)))
    uri = f"models:/{model}/{version}"
    loaded = models.load(uri)
    report = checks.run_checks(
        [
            checks.MetricThreshold("roc_auc", min=0.95),
            checks.Calibration(max_error=0.1),
            checks.Directional(
                "worst concave points", delta=0.05, expect="decrease", max_violations=0.1
            ),
            checks.FairnessThreshold("equalized_odds_difference", ["clinic"], max=0.2),
            checks.Latency(max_ms=250, repeats=10),
        ],
        data=data,
        target="target",
        model=loaded,
        exclude=["clinic"],
        suite="demo-release",
        seed=seed,
    )
    checks.save_report(report, model=f"{model}/{version}")
    fairness = fairness_report(
        data["target"], loaded.predict(data[X_test.columns]), ["clinic"], data=data
    )
    save_fairness_report(f"{model}/{version}", fairness)
    (importance,) = explain(
        uri, data.drop(columns=["clinic"]), "target", repeats=3, metric="roc_auc"
    )
    return GovernanceSummary(
        data_checks={},
        model_checks=tuple((r.name, r.passed, r.value) for r in report.results),
        fairness={
            key: fairness.disparities[key]
            for key in ("demographic_parity_difference", "equalized_odds_difference")
        },
        fairness_warnings=fairness.warnings,
        top_features=tuple((f.feature, f.importance) for f in importance.top(5)),
        explanation_seconds=importance.seconds,
    )


def print_governance(summary: GovernanceSummary, console: Any) -> None:
    """Print the checks, fairness, explanation and audit lines of the demo."""
    for ref, (passed, failed, total) in summary.data_checks.items():
        verdict = "passed" if passed else f"{failed} of {total} failed"
        console.print(f"data check (suite suggested from the training profile) on {ref}: {verdict}")
    for name, passed, value in summary.model_checks:
        shown = "-" if value is None else f"{value:.4g}"
        console.print(f"model check {'✓' if passed else '✗'} {name} (value {shown})")
    figures = ", ".join(f"{key} {value:.3f}" for key, value in summary.fairness.items())
    console.print(f"fairness across synthetic clinic labels: {figures}")
    for warning in summary.fairness_warnings:
        console.print(f"  note: {warning}")
    features = ", ".join(f"{name} ({value:.3f})" for name, value in summary.top_features)
    console.print(
        f"explanation (permutation importance, drop in ROC AUC, "
        f"{summary.explanation_seconds:.1f} s): {features}"
    )
    state = "intact" if summary.audit_intact else "NOT intact"
    console.print(
        f"audit log {state}: {summary.audit_events} events, head {summary.audit_head[:16]}… "
        "(steward audit verify)"
    )
