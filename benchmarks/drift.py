"""Drift detection: Steward vs Evidently vs a hand-vectorised NumPy floor.

Synthetic windows: 20 numeric features (normal, lognormal, uniform) and 5
categorical ones (5-50 levels), with drift injected in 7 of them:

    strong:   num_00 (normal, mean +1 std)          cat_0 (level shares reversed)
    moderate: num_04 (lognormal, values x1.3)        num_08 (uniform, +0.1 = 0.35 std)
              cat_1 (a third of the shares reversed)
    subtle:   num_12 (normal, mean +0.05 std)        cat_2 (3% of the mass spread evenly)

Each tool runs in its own child process (Evidently in its own venv under
``.bench/venvs/evidently``, created on first use), which builds the same data
from the same seed; the parent reads the child's wall time for the drift call
alone and its peak RSS. Run::

    python benchmarks/drift.py                     # 10k and 100k rows
    python benchmarks/drift.py --sizes 1000000     # the big size (Evidently takes minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from peers import ensure_venv

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
LEVELS = [5, 10, 20, 35, 50]
STRONG = {"num_00", "cat_0"}
MODERATE = {"num_04", "num_08", "cat_1"}
SUBTLE = {"num_12", "cat_2"}
DRIFTED = STRONG | MODERATE | SUBTLE
WASSERSTEIN_THRESHOLD = 0.1
JS_THRESHOLD = 0.1


def make_window(n: int, seed: int, drifted: bool):  # type: ignore[no-untyped-def]
    """One window as a DataFrame, built column by column (no consolidation copy)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns = {}
    for i, name in enumerate(NUMERIC):
        kind = i % 3
        if kind == 0:
            values = rng.normal(0.0, 1.0, n)
        elif kind == 1:
            values = rng.lognormal(0.0, 1.0, n)
        else:
            values = rng.uniform(0.0, 1.0, n)
        if drifted and name == "num_00":
            values += 1.0
        if drifted and name == "num_04":
            values *= 1.3
        if drifted and name == "num_08":
            values += 0.1
        if drifted and name == "num_12":
            values += 0.05
        columns[name] = values
    for name, k in zip(CATEGORICAL, LEVELS, strict=True):
        shares = 1.0 / np.arange(1, k + 1)
        shares /= shares.sum()
        if drifted and name == "cat_0":
            shares = shares[::-1]
        if drifted and name == "cat_1":
            shares = 0.67 * shares + 0.33 * shares[::-1]
        if drifted and name == "cat_2":
            shares = 0.97 * shares + 0.03 / k
        codes = rng.choice(k, size=n, p=shares).astype(np.int8)
        columns[name] = pd.Categorical.from_codes(codes, [f"L{j}" for j in range(k)])
    return pd.DataFrame(columns, copy=False)


def run_steward(reference, current) -> set[str]:  # type: ignore[no-untyped-def]
    from steward.monitoring import drift

    return set(drift(reference, current).drifted)


def run_floor(reference, current) -> set[str]:  # type: ignore[no-untyped-def]
    """The same statistics by hand: quantile-edged histograms, Wasserstein/std, JS."""
    import numpy as np

    flagged = set()
    for name in NUMERIC:
        a = np.sort(reference[name].to_numpy())
        b = np.sort(current[name].to_numpy())
        position = np.linspace(0, 1, 101) * (a.size - 1)
        edges = np.unique(np.interp(position, np.arange(a.size), a))

        def cells(x, edges=edges):  # type: ignore[no-untyped-def]
            bounds = np.r_[0, np.searchsorted(x, edges), x.size]
            running = np.r_[0.0, np.cumsum(x)]
            return np.diff(bounds), np.diff(running[bounds])

        ca, sa = cells(a)
        cb, sb = cells(b)
        fa, fb = np.cumsum(ca)[:-1] / a.size, np.cumsum(cb)[:-1] / b.size
        width = np.diff(edges)
        area_a = fa[:-1] * width + (ca[1:-1] * edges[1:] - sa[1:-1]) / a.size
        area_b = fb[:-1] * width + (cb[1:-1] * edges[1:] - sb[1:-1]) / b.size
        tails = abs((ca[0] * edges[0] - sa[0]) / a.size - (cb[0] * edges[0] - sb[0]) / b.size)
        tails += abs(
            (sa[-1] - ca[-1] * edges[-1]) / a.size - (sb[-1] - cb[-1] * edges[-1]) / b.size
        )
        distance = np.abs(area_a - area_b).sum() + tails
        if distance / a.std() >= WASSERSTEIN_THRESHOLD:
            flagged.add(name)
    for name in CATEGORICAL:
        p = np.bincount(reference[name].cat.codes.to_numpy(), minlength=64) / len(reference)
        q = np.bincount(current[name].cat.codes.to_numpy(), minlength=64) / len(current)
        m = (p + q) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.nansum(np.where(p > 0, p * np.log2(p / m), 0))
            kl_q = np.nansum(np.where(q > 0, q * np.log2(q / m), 0))
        if np.sqrt((kl_p + kl_q) / 2) >= JS_THRESHOLD:
            flagged.add(name)
    return flagged


def run_evidently(reference, current) -> set[str]:  # type: ignore[no-untyped-def]
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    flagged = set()
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        column = config.get("column")
        if column is None or not config.get("type", "").endswith("ValueDrift"):
            continue
        threshold = config.get("threshold")
        method = config.get("method", "")
        value = metric["value"]
        is_p_value = "p_value" in method or method in ("K-S p_value", "chi-square p_value")
        if (value <= threshold) if is_p_value else (value >= threshold):
            flagged.add(column)
    return flagged


def check_summary_agreement(reference, current) -> bool:  # type: ignore[no-untyped-def]
    """Drift from a stored reference summary agrees with raw data and with exact statistics."""
    import numpy as np
    from scipy import stats

    from steward.monitoring import drift
    from steward.monitoring.statistics.summary import DatasetSummary, summarize

    stored = DatasetSummary.from_dict(json.loads(json.dumps(summarize(reference).to_dict())))
    raw = drift(reference, current)
    from_summary = drift(stored, current)
    if raw.drifted != from_summary.drifted:
        return False
    for name in NUMERIC:
        a, b = reference[name].to_numpy(), current[name].to_numpy()
        exact = stats.wasserstein_distance(a, b) / a.std() >= WASSERSTEIN_THRESHOLD
        if exact != bool(from_summary.feature(name).drifted):
            return False
    for name in CATEGORICAL:
        p = reference[name].value_counts(sort=False).to_numpy()
        q = current[name].value_counts(sort=False).to_numpy()
        exact = float(
            np.sqrt(
                stats.entropy(p, (p / p.sum() + q / q.sum()) / 2, base=2) / 2
                + stats.entropy(q, (p / p.sum() + q / q.sum()) / 2, base=2) / 2
            )
        )
        if (exact >= JS_THRESHOLD) != bool(from_summary.feature(name).drifted):
            return False
    return True


TOOLS = {"steward": run_steward, "floor": run_floor, "evidently": run_evidently}


def child(tool: str, n: int) -> None:
    """Build the data, time one tool, print JSON."""
    reference = make_window(n, 1, drifted=False)
    current = make_window(n, 2, drifted=True)
    data_bytes = int(
        reference.memory_usage(deep=True).sum() + current.memory_usage(deep=True).sum()
    )
    before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    flagged: set[str] = set()
    elapsed = 0.0
    if tool == "steward":
        import steward.monitoring.checks.drift  # noqa: F401  (imports are not timed, for any tool)
    if tool == "evidently":
        import evidently.presets  # noqa: F401
    if tool != "data":
        start = time.perf_counter()
        flagged = TOOLS[tool](reference, current)
        elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    agrees = None
    if tool == "steward":
        agrees = check_summary_agreement(reference, current)
    print(
        json.dumps(
            {
                "tool": tool,
                "n": n,
                "seconds": elapsed,
                "peak_bytes": peak,
                "rss_before_bytes": before_rss,
                "data_bytes": data_bytes,
                "flagged": sorted(flagged),
                "summary_agrees": agrees,
            }
        )
    )


def ensure_evidently() -> Path:
    """Evidently's venv python (Evidently 0.7 needs pandas < 3)."""
    return ensure_venv("evidently", ["evidently", "pandas<3"])


def measure(tool: str, n: int) -> dict[str, object]:
    python = ensure_evidently() if tool == "evidently" else Path(sys.executable)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    output = subprocess.run(
        [str(python), __file__, "--child", tool, "--n", str(n)],
        capture_output=True,
        text=True,
        env=env,
    )
    if output.returncode != 0:
        return {"tool": tool, "n": n, "error": output.stderr.strip().splitlines()[-1:]}
    result: dict[str, object] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def detection(flagged: list[str]) -> str:
    found = set(flagged)
    parts = [
        f"strong {len(found & STRONG)}/{len(STRONG)}",
        f"moderate {len(found & MODERATE)}/{len(MODERATE)}",
        f"subtle {len(found & SUBTLE)}/{len(SUBTLE)}",
        f"false {len(found - DRIFTED)}",
    ]
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    parser.add_argument("--tools", default="steward,floor,evidently")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n)
        return
    tools = args.tools.split(",")
    print(
        "| rows (ref/cur) | tool | time (s) | peak RSS (MB) | data (MB) | peak / data "
        "| vs Evidently | vs floor | detected | summary = exact |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in (int(size) for size in args.sizes.split(",")):
        results = {tool: measure(tool, n) for tool in ["data", *tools]}
        baseline = results["data"]
        for tool in tools:
            r = results[tool]
            if "error" in r:
                print(f"| {n:,} | {tool} | error: {r['error']} |")
                continue
            seconds = float(r["seconds"])  # type: ignore[arg-type]
            peak = int(r["peak_bytes"]) / 2**20  # type: ignore[call-overload]
            data = int(r["data_bytes"]) / 2**20  # type: ignore[call-overload]
            evidently = results.get("evidently", {})
            floor = results.get("floor", {})
            vs_ev = (
                f"{float(evidently['seconds']) / seconds:.0f}x faster"  # type: ignore[arg-type]
                if "seconds" in evidently and tool != "evidently"
                else "-"
            )
            vs_floor = (
                f"{seconds / float(floor['seconds']):.1f}x"  # type: ignore[arg-type]
                if "seconds" in floor
                else "-"
            )
            agrees = r.get("summary_agrees")
            print(
                f"| {n:,} | {tool} | {seconds:.2f} | {peak:.0f} | {data:.0f} | "
                f"{peak / data:.2f} | {vs_ev} | {vs_floor} | {detection(r['flagged'])} "  # type: ignore[arg-type]
                f"| {'-' if agrees is None else ('yes' if agrees else 'NO')} |"
            )
        base_peak = int(baseline.get("peak_bytes", 0)) / 2**20  # type: ignore[call-overload]
        print(f"| {n:,} | (data only, no tool) | - | {base_peak:.0f} | | | | | | |")


if __name__ == "__main__":
    main()
