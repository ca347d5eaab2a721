"""What governance adds to a model card: training data from lineage, checks, the gate's
verdict, fairness, explanations (with a bar chart in the HTML card) and where the model
went since."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steward.models.card_section import Section
    from steward.workspace import Workspace

_RESULTS_SHOWN = 25


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def training_data_section(workspace: Workspace, run_id: str) -> Section | None:
    """The dataset versions the training run read, from lineage (None if none recorded)."""
    from steward.models.card_section import Section

    edges = [e for e in workspace.store.datasets.lineage_of_run(run_id) if e.direction == "input"]
    if not edges:
        return None
    rows = []
    for edge in edges:
        record = workspace.store.datasets.get_version(edge.dataset, edge.version)
        rows.append(
            (
                f"{edge.dataset}:{edge.version}",
                _number(record.row_count),
                record.digest[:23] + "…",
                f"{record.created_at:%Y-%m-%d} by {record.created_by}",
            )
        )
    return Section(
        "Training data (lineage)",
        text="Dataset versions the training run read, by content digest.",
        header=("version", "rows", "digest", "added"),
        rows=tuple(rows),
    )


def _check_rows(results: Any) -> tuple[tuple[str, ...], ...]:
    rows = []
    for result in list(results)[:_RESULTS_SHOWN]:
        mark = "pass" if result.passed else ("warn" if result.severity == "warning" else "FAIL")
        rows.append(
            (mark, result.kind, result.name, _number(result.value), _number(result.threshold))
        )
    return tuple(rows)


def checks_sections(
    workspace: Workspace, name: str, version: int, run_id: str | None
) -> list[Section]:
    """The latest check run on the model version, and on each training data version."""
    from steward.models.card_section import Section

    governance = workspace.store.governance
    sections = []
    runs = governance.check_runs(model=(name, version), limit=1)
    if runs:
        latest = runs[0]
        verdict = "passed" if latest.passed else f"FAILED ({latest.failed_count} failing)"
        sections.append(
            Section(
                "Model checks",
                text=f"Suite '{latest.suite}' {verdict}, {latest.created_at:%Y-%m-%d %H:%M UTC} "
                f"by {latest.created_by}" + (f" on {latest.dataset}." if latest.dataset else "."),
                header=("", "kind", "check", "value", "threshold"),
                rows=_check_rows(latest.results),
            )
        )
    else:
        sections.append(Section("Model checks", text="No checks were recorded on this version."))
    if run_id is not None:
        rows = []
        for edge in workspace.store.datasets.lineage_of_run(run_id):
            if edge.direction != "input":
                continue
            found = governance.check_runs(dataset_version_id=edge.version_id, limit=1)
            if found:
                run = found[0]
                rows.append(
                    (
                        f"{edge.dataset}:{edge.version}",
                        run.suite,
                        "passed" if run.passed else "FAILED",
                        f"{run.check_count - run.failed_count}/{run.check_count}",
                    )
                )
        if rows:
            sections.append(
                Section(
                    "Data checks", header=("data", "suite", "result", "passed"), rows=tuple(rows)
                )
            )
    return sections


def fairness_section(workspace: Workspace, name: str, version: int) -> Section | None:
    """The latest stored fairness report: disparities, per-group rates and warnings."""
    from steward.models.card_section import Section

    reports = workspace.store.governance.reports(name, version, "fairness")
    if not reports:
        return None
    body = reports[0].body
    rows: list[tuple[str, ...]] = [
        ("(disparity)", key, _number(value), "") for key, value in body["disparities"].items()
    ]
    for group in body["groups"]:
        label = ", ".join(f"{k}={v}" for k, v in group["group"].items())
        low, high = group["intervals"]["selection_rate"]
        rows.append(
            (
                label,
                f"n={group['count']}" + (" (too small)" if group["too_small"] else ""),
                f"selection {_number(group['selection_rate'])} [{_number(low)}, {_number(high)}]",
                f"accuracy {_number(group['accuracy'])}, recall {_number(group['recall'])}",
            )
        )
    warnings = " ".join(body.get("warnings") or [])
    return Section(
        f"Fairness across {', '.join(body['sensitive'])}",
        text=(
            f"Recorded {reports[0].created_at:%Y-%m-%d} by {reports[0].created_by}. " + warnings
        ).strip(),
        header=("group", "size", "selection rate [95% interval]", "other rates"),
        rows=tuple(rows),
    )


def _bar_chart(features: list[dict[str, Any]]) -> str:
    """A horizontal bar chart of importances as inline SVG."""
    top = features[:12]
    largest = max((abs(item["importance"]) for item in top), default=0.0) or 1.0
    height = 22 * len(top) + 10
    bars = []
    for index, item in enumerate(top):
        width = int(280 * abs(item["importance"]) / largest)
        y = 5 + index * 22
        bars.append(
            f'<text x="0" y="{y + 14}" font-size="12">{html.escape(item["feature"][:28])}</text>'
            f'<rect x="190" y="{y + 3}" width="{width}" height="14" fill="#4a7ebb"/>'
            f'<text x="{196 + width}" y="{y + 14}" font-size="11">{item["importance"]:.3g}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="540" height="{height}" '
        f'font-family="sans-serif">{"".join(bars)}</svg>'
    )


def explanation_sections(workspace: Workspace, name: str, version: int) -> list[Section]:
    """The latest explanation of each method, top features first."""
    from steward.models.card_section import Section

    latest: dict[str, Any] = {}
    for report in workspace.store.governance.reports(name, version, "explanation"):
        latest.setdefault(report.method, report)
    sections = []
    for method, report in sorted(latest.items()):
        features = sorted(report.body["features"], key=lambda item: -abs(item["importance"]))
        what = (
            f"drop in {report.body.get('metric')} when shuffled"
            if method == "permutation"
            else "mean |SHAP value|"
        )
        sections.append(
            Section(
                f"Explanation: {method} importance",
                text=f"{what.capitalize()}, on {report.body['rows']} rows "
                f"({report.created_at:%Y-%m-%d}).",
                header=("feature", "importance", "spread"),
                rows=tuple(
                    (item["feature"], _number(item["importance"]), _number(item.get("std")))
                    for item in features[:15]
                ),
                figure=_bar_chart(features),
            )
        )
    return sections


def gate_section(workspace: Workspace, name: str, version: int) -> Section | None:
    """The latest gate run of the version: each check's figure for it and for the champion
    it was tested against, and what the promotion policy decided (None if never gated)."""
    from steward.models.card_section import Section

    runs = workspace.store.promotion.gates(model=(name, version), limit=1)
    if not runs:
        return None
    record = runs[0]
    checks = workspace.store.governance.check_runs(run_id=record.check_run_id)[0]
    decided = (
        f" Decision: {record.decision} by {record.decided_by}"
        f" at {record.decided_at:%Y-%m-%d %H:%M UTC}."
        if record.decision and record.decided_at
        else " No promotion decision yet."
    )
    rows = []
    for result in list(checks.results)[:_RESULTS_SHOWN]:
        mark = "pass" if result.passed else ("warn" if result.severity == "warning" else "FAIL")
        theirs = result.details.get("champion_value", result.details.get("champion"))
        rows.append(
            (mark, result.name, _number(result.value), _number(theirs), _number(result.threshold))
        )
    return Section(
        "Gate",
        text=f"Gate {record.id} {'passed' if record.passed else 'FAILED'} against the champion "
        f"{record.champion or '-'}"
        + (f" on {checks.dataset}" if checks.dataset else "")
        + f", {record.created_at:%Y-%m-%d %H:%M UTC} by {record.created_by}."
        + decided,
        header=("", "check", "this version", "champion", "threshold"),
        rows=tuple(rows),
    )


def lineage_section(workspace: Workspace, name: str, version: int) -> Section | None:
    """Where the version went: deployments, monitors and alerts downstream of it."""
    from steward.governance.lineage import lineage
    from steward.models.card_section import Section

    graph = lineage(f"models:/{name}/{version}", "down", depth=3, workspace=workspace)
    rows = tuple(
        (node.kind, node.label, ", ".join(f"{k} {v}" for k, v in node.attributes.items() if v))
        for node in graph.nodes
        if node.kind in ("deployment", "monitor", "alert")
    )
    if not rows:
        return None
    return Section(
        "Lineage: deployments and monitoring", header=("kind", "what", "facts"), rows=rows
    )


def governance_sections(
    workspace: Workspace, name: str, version: int, run_id: str | None
) -> list[Section]:
    """Every governance section of a version's card, in reading order."""
    sections = checks_sections(workspace, name, version, run_id)
    gate = gate_section(workspace, name, version)
    if gate is not None:
        sections.append(gate)
    fairness = fairness_section(workspace, name, version)
    if fairness is not None:
        sections.append(fairness)
    sections += explanation_sections(workspace, name, version)
    downstream = lineage_section(workspace, name, version)
    if downstream is not None:
        sections.append(downstream)
    return sections
