"""A self-contained HTML report of one window: drift table, distributions, quality,
performance.

The page inlines the plotly.js that the ``plotly`` package ships, so it opens
offline (a clinic laptop, a field office) with no network at all.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from steward.errors import require
from steward.monitoring.statistics.summary import (
    CategoricalSummary,
    NumericSummary,
    align_categories,
)

if TYPE_CHECKING:
    from steward.monitoring.checks.estimated import EstimatedPerformance
    from steward.monitoring.checks.performance import PerformanceResult
    from steward.monitoring.checks.result import DriftResult

MAX_PLOTS = 60
"""Distribution plots drawn at most (drifted columns first)."""
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2330}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d8dce3;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #d8dce3;padding:.25rem .5rem;text-align:left}th{background:#f2f4f7}
tr.drifted td{background:#fdecec}.verdict{font-size:1.2rem;font-weight:600}
.bad{color:#b42318}.good{color:#067647}.muted{color:#667085}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1rem}
"""


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def table(columns: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    """An HTML table of ``rows`` (cells escaped), with a CSS class per row when given."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _numeric_bars(reference: NumericSummary, current: NumericSummary) -> tuple[list[str], Any, Any]:
    """Shares per display bin: about 20 groups of the fine cells, plus the outer cells."""
    edges = reference.edges
    interior = len(edges) - 1
    step = max(interior // 20, 1)
    starts = list(range(0, interior, step))
    labels = [f"< {edges[0]:.3g}"]
    groups = np.zeros(len(edges) + 1, dtype=np.int64)
    for g, start in enumerate(starts, start=1):
        stop = min(start + step, interior)
        groups[1 + start : 1 + stop] = g
        labels.append(f"{edges[start]:.3g} to {edges[stop]:.3g}")
    groups[-1] = len(starts) + 1
    labels.append(f"> {edges[-1]:.3g}")
    size = len(labels)
    ref = np.bincount(groups, weights=reference.counts, minlength=size) / max(reference.count, 1)
    cur = np.bincount(groups, weights=current.counts, minlength=size) / max(current.count, 1)
    keep = (ref > 0) | (cur > 0)
    return [label for label, k in zip(labels, keep, strict=True) if k], ref[keep], cur[keep]


def _categorical_bars(
    reference: CategoricalSummary, current: CategoricalSummary
) -> tuple[list[str], Any, Any]:
    keys, ref, cur = align_categories(reference, current)[:3]
    ref = ref / max(ref.sum(), 1)
    cur = cur / max(cur.sum(), 1)
    top = np.argsort(-(ref + cur))[:25]
    return [keys[i] for i in top], ref[top], cur[top]


def feature_shares(drift: DriftResult, column: str) -> tuple[list[str], Any, Any] | None:
    """Bins (or categories) of one column with the reference's and the current window's
    share of rows in each, for a plot; None when either side has no values."""
    reference, current = drift.reference_summary, drift.current_summary
    if reference is None or current is None:
        return None
    ref, cur = reference.columns.get(column), current.columns.get(column)
    if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
        return _numeric_bars(ref, cur) if ref.count and cur.count else None
    if isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
        return _categorical_bars(ref, cur) if ref.count and cur.count else None
    return None


def _plots(drift: DriftResult) -> tuple[str, int]:
    go: Any = require("plotly.graph_objects", "report", "HTML reports")
    if drift.reference_summary is None or drift.current_summary is None:
        return "", 0
    ordered = sorted(drift.features, key=lambda row: (not row.drifted, row.column))
    parts = []
    for row in ordered[:MAX_PLOTS]:
        shares = feature_shares(drift, row.column)
        if shares is None:
            continue
        labels, ref_share, cur_share = shares
        verdict = "drift" if row.drifted else "no drift"
        figure = go.Figure(
            [
                go.Bar(name="reference", x=labels, y=ref_share, marker_color="#98a2b3"),
                go.Bar(
                    name="current",
                    x=labels,
                    y=cur_share,
                    marker_color="#d92d20" if row.drifted else "#2e90fa",
                ),
            ]
        )
        effect = "-" if row.effect_size is None else f"{row.effect_size:.3g}"
        figure.update_layout(
            title=f"{row.column}: {verdict} ({row.test}, effect {effect})",
            barmode="group",
            height=320,
            margin={"l": 40, "r": 10, "t": 50, "b": 80},
            yaxis_title="share of rows",
            legend={"orientation": "h", "y": 1.12},
        )
        parts.append(
            "<div>"
            + figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
            + "</div>"
        )
    return f'<div class="plots">{"".join(parts)}</div>', len(parts)


def _drift_section(drift: DriftResult) -> str:
    verdict_class = "bad" if drift.dataset_drift else "good"
    verdict = "Dataset drift detected" if drift.dataset_drift else "No dataset drift"
    lines = [
        f'<p class="verdict {verdict_class}">{verdict}: {drift.drift_share:.0%} of features '
        f"drifted (threshold {drift.drift_share_threshold:.0%}).</p>",
        f'<p class="muted">reference rows: {drift.reference_rows:,}; current rows: '
        f"{drift.current_rows:,}</p>",
    ]
    for note in drift.notes:
        lines.append(f'<p class="bad">{html.escape(note)}</p>')
    schema = drift.schema
    if schema.any:
        items = [
            f"missing: {', '.join(schema.missing) or '-'}",
            f"new: {', '.join(schema.new) or '-'}",
        ]
        items.append(
            "retyped: " + (", ".join(f"{n} ({a} → {b})" for n, a, b in schema.retyped) or "-")
        )
        lines.append(
            "<h3>Schema changes</h3><ul>"
            + "".join(f"<li>{html.escape(i)}</li>" for i in items)
            + "</ul>"
        )
    columns = [
        "column",
        "role",
        "kind",
        "test",
        "statistic",
        "p-value",
        "score",
        "threshold",
        "drift",
        "effect size",
        "PSI",
        "status",
        "notes",
    ]
    rows = [
        [
            r.column,
            r.role,
            r.kind,
            r.test,
            r.statistic,
            r.p_value,
            r.score,
            r.threshold,
            r.drifted,
            r.effect_size,
            r.psi,
            r.status,
            "; ".join(r.notes),
        ]
        for r in drift.features
    ]
    classes = ["drifted" if r.drifted else "" for r in drift.features]
    lines.append(table(columns, rows, classes))
    return "".join(lines)


def _quality_section(drift: DriftResult) -> str:
    quality = drift.quality
    if quality is None:
        return ""
    duplicates = "-" if quality.duplicate_rate is None else f"{quality.duplicate_rate:.2%}"
    columns = [
        "column",
        "kind",
        "rows",
        "missing",
        "missing (reference)",
        "infinite",
        "out of range",
        "unseen categories",
        "unseen share",
        "constant",
        "notes",
    ]
    rows = [
        [
            q.column,
            q.kind,
            q.rows,
            q.missing_rate,
            q.reference_missing_rate,
            q.infinities,
            q.out_of_range_rate,
            q.unseen_categories,
            q.unseen_rate,
            q.constant,
            "; ".join(q.notes),
        ]
        for q in quality.columns
    ]
    return f"<h2>Data quality</h2><p>duplicate rows: {duplicates}</p>" + table(columns, rows)


def _performance_section(
    performance: PerformanceResult | None, estimated: EstimatedPerformance | None
) -> str:
    parts = []
    if performance is not None:
        columns = ["segment", "rows", "metric", "value", "lower", "upper", "interval"]
        rows = [
            [part.segment or "(all)", part.rows, m.name, m.value, m.lower, m.upper, m.method]
            for part in (performance.overall, *performance.segments)
            for m in part.metrics.values()
        ]
        parts.append(f"<h3>Realised ({performance.task})</h3>" + table(columns, rows))
    if estimated is not None:
        rows = [[k, v, estimated.realised.get(k)] for k, v in estimated.estimated.items()]
        notes = "".join(f"<p class='muted'>{html.escape(note)}</p>" for note in estimated.notes)
        parts.append(
            "<h3>Estimated before labels (CBPE)</h3>"
            + notes
            + table(["metric", "estimated", "realised"], rows)
        )
    return "<h2>Performance</h2>" + "".join(parts) if parts else ""


def write_report(
    path: str | Path,
    drift: DriftResult,
    performance: PerformanceResult | None = None,
    estimated: EstimatedPerformance | None = None,
    title: str = "Steward monitoring report",
    header: str = "",
    trends: str = "",
) -> Path:
    """Write the HTML report of a drift check (and performance, when given).

    ``header`` and ``trends`` are HTML sections placed before and after the
    drift sections (``write_monitor_report`` fills them).

    Raises:
        MissingDependency: plotly is not installed (``pip install "mlsteward[report]"``).
    """
    offline: Any = require("plotly.offline", "report", "HTML reports")
    plots, count = _plots(drift)
    body = [
        f"<h1>{html.escape(title)}</h1>",
        header,
        "<h2>Data drift</h2>",
        _drift_section(drift),
        f"<h2>Distributions</h2><p class='muted'>{count} column(s), drifted first; "
        "reference in grey.</p>" + plots,
        _quality_section(drift),
        _performance_section(performance, estimated),
        trends,
    ]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{offline.get_plotlyjs()}</script></head><body>" + "".join(body) + "</body></html>"
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(target)
    return target
