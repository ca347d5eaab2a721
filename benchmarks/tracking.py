"""Tracking benchmark: Steward against MLflow, side by side, on local SQLite stores.

Run alone with ``.venv/bin/python benchmarks/tracking.py`` (``--quick`` for a
smoke run, ``--json PATH`` to keep the figures). MLflow is installed into its
own venv (``.bench/venvs/mlflow``) on first use. Each tool runs in a fresh
process of its own; timers there start after imports and set-up, except for
the import measure, which times ``import X`` in new interpreters.

Measures (issue targets in brackets):
    (a) 10,000 single ``log_metric`` calls until durable, calls/s   [>= 300x MLflow]
    (b) 100,000 points through the batch API, points/s              [>= 30x]
    (c) 100 runs x (20 params + 5 metrics), started and ended, runs/s [>= 10x]
    (d) top 100 of 5,000 runs by metric filter and order, ms         [>= 50x, < 25 ms]
    (e) all 5,000 runs as a DataFrame, s                             [>= 10x]
    (f) ``import`` in a fresh process, s                             [steward < 0.3 s]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peers import MLFLOW_SPEC, mlflow_python, run_snippet
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
SNIPPETS = HERE / "snippets"
SEED = 20261127

FULL_SIZES = {
    "single_calls": 10_000,
    "batch_points": 100_000,
    "batch_keys": 10,
    "runs": 100,
    "params_per_run": 20,
    "metrics_per_run": 5,
    "search_runs": 5_000,
}
QUICK_SIZES = {
    "single_calls": 500,
    "batch_points": 10_000,
    "batch_keys": 10,
    "runs": 20,
    "params_per_run": 20,
    "metrics_per_run": 5,
    "search_runs": 300,
}
FULL_REPEATS = {"search": 7, "frame": 3, "import": 5}
QUICK_REPEATS = {"search": 3, "frame": 2, "import": 3}
MEASURES = ("single", "batch", "runs", "search", "import")

# MLflow 3.17.2 on this machine kind, measured before this benchmark existed
# (search: raw SQL 5.5 ms then; frame: raw 0.16 s). Shown beside the live
# ratio because a shared 2-core machine moves MLflow's figures a lot.
MLFLOW_REFERENCE = {
    "single": 192.0,  # calls/s
    "batch": 7_600.0,  # points/s
    "runs": 35.0,  # runs/s
    "search": 1_330.0,  # ms
    "frame": 4.9,  # s
    "import": 1.7,  # s
}
# Keep MLflow from reaching for the network while it is being timed.
MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@dataclass
class Row:
    """One line of the results table."""

    measure: str
    unit: str
    steward: float | None
    mlflow: float | None
    ratio: float | None
    ratio_reference: float | None
    target: str
    floor: str
    passed: bool | None


def seed_runs(count: int) -> list[dict[str, Any]]:
    """The runs searched in (d) and (e): the same for both tools."""
    rng = random.Random(SEED)
    runs = []
    for index in range(count):
        acc = rng.random()
        runs.append(
            {
                "name": f"run-{index:05d}",
                "params": {
                    "model": rng.choice(["rf", "xgb", "linear"]),
                    "lr": str(rng.choice([0.001, 0.01, 0.1])),
                    "depth": str(rng.randint(2, 12)),
                },
                "metrics": {"acc": acc, "loss": (1 - acc) * rng.uniform(0.5, 1.5)},
            }
        )
    return runs


def import_seconds(python: str, module: str, repeats: int, env: dict[str, str]) -> list[float]:
    """Seconds ``import module`` takes in ``repeats`` fresh interpreters (after one warm-up)."""
    code = (
        "import time\n"
        "start = time.perf_counter()\n"
        f"import {module}\n"
        "print(time.perf_counter() - start)\n"
    )
    times = []
    for attempt in range(repeats + 1):
        done = subprocess.run(
            [python, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
            cwd=tempfile.gettempdir(),
        )
        if attempt:  # the first run only warms caches (and writes .pyc files)
            times.append(float(done.stdout.strip().splitlines()[-1]))
    return times


def machine() -> dict[str, Any]:
    """What ran the benchmark."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def interpreter_name() -> str:
    """The running interpreter, relative to the repository when it lives there."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(HERE.parent))
    except ValueError:
        return str(executable)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def build_rows(
    steward: dict[str, Any],
    mlflow: dict[str, Any] | None,
    imports: dict[str, Any] | None,
    full_sizes: bool = True,
) -> list[Row]:
    """Turn both sides' raw results into table rows with ratios and verdicts.

    The ratio against MLflow's reference figures is only given at full sizes,
    the sizes those figures were measured at.
    """
    mlflow = mlflow or {}
    rows: list[Row] = []
    reference = MLFLOW_REFERENCE if full_sizes else {}

    def against_reference(key: str, ours: float, faster_is_higher: bool) -> float | None:
        if key not in reference:
            return None
        return ratio(ours, reference[key]) if faster_is_higher else ratio(reference[key], ours)

    def throughput(key: str, label: str, unit: str, target: float, floor_text: str) -> None:
        if key not in steward:
            return
        ours = steward[key]["per_s"]
        theirs = mlflow.get(key, {}).get("per_s")
        floor = steward.get(f"{key}_floor")
        factor = ratio(ours, theirs)
        rows.append(
            Row(
                label,
                unit,
                ours,
                theirs,
                factor,
                against_reference(key, ours, True),
                f">= {target:g}x",
                floor_text.format(floor["per_s"]) if floor else "-",
                None if factor is None else factor >= target,
            )
        )

    sizes_single = steward.get("single", {}).get("calls", 0)
    sizes_batch = steward.get("batch", {}).get("points", 0)
    sizes_runs = steward.get("runs", {}).get("runs", 0)
    insert_floor = "{:,.0f} rows/s (raw executemany)"
    throughput(
        "single", f"(a) {sizes_single:,} log_metric calls, durable", "calls/s", 300, insert_floor
    )
    throughput("batch", f"(b) {sizes_batch:,} points via batch API", "points/s", 30, insert_floor)
    throughput(
        "runs",
        f"(c) {sizes_runs} runs x (20 params + 5 metrics)",
        "runs/s",
        10,
        "{:,.0f} runs/s (raw SQL, 2 tx/run)",
    )
    if "search" in steward:
        ours = steward["search"]
        theirs = mlflow.get("search", {})
        count = ours["seed_runs"]
        factor = ratio(theirs.get("search_ms"), ours["search_ms"])
        rows.append(
            Row(
                f"(d) top 100 of {count:,} runs, filter + order by metric",
                "ms",
                ours["search_ms"],
                theirs.get("search_ms"),
                factor,
                against_reference("search", ours["search_ms"], False),
                ">= 50x and < 25 ms",
                f"{ours['raw_search_ms']:.2f} ms (raw SQL)",
                None if factor is None else factor >= 50 and ours["search_ms"] < 25,
            )
        )
        factor = ratio(theirs.get("frame_s"), ours["frame_s"])
        rows.append(
            Row(
                f"(e) all {count:,} runs as a DataFrame",
                "s",
                ours["frame_s"],
                theirs.get("frame_s"),
                factor,
                against_reference("frame", ours["frame_s"], False),
                ">= 10x",
                f"{ours['raw_frame_s']:.3f} s (read_sql)",
                None if factor is None else factor >= 10,
            )
        )
    if imports:
        ours = statistics.median(imports["steward"])
        theirs = statistics.median(imports["mlflow"]) if imports.get("mlflow") else None
        rows.append(
            Row(
                "(f) import, fresh process (median)",
                "s",
                ours,
                theirs,
                ratio(theirs, ours),
                against_reference("import", ours, False),
                "steward < 0.3 s",
                "-",
                ours < 0.3,
            )
        )
    return rows


def fmt(value: float | None, unit: str) -> str:
    """A figure with its unit, rounded for reading."""
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:,.0f} {unit}"


HEADERS = (
    ("Measure", "left"),
    ("Steward", "right"),
    ("MLflow", "right"),
    ("Ratio", "right"),
    ("Ratio vs ref", "right"),
    ("Target", "left"),
    ("Floor", "right"),
    ("Result", "center"),
)


def cells(row: Row) -> list[str]:
    """A row's cells as text, verdict last (pass, FAIL or -)."""

    def times(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}x"

    return [
        row.measure,
        fmt(row.steward, row.unit),
        fmt(row.mlflow, row.unit),
        times(row.ratio),
        times(row.ratio_reference),
        row.target,
        row.floor,
        {True: "pass", False: "FAIL", None: "-"}[row.passed],
    ]


def render(rows: list[Row], title: str) -> Table:
    """The results as a rich table."""
    table = Table(title=title)
    for header, justify in HEADERS:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        text = cells(row)
        colour = {"pass": "green", "FAIL": "red"}.get(text[-1])
        if colour:
            text[-1] = f"[{colour}]{text[-1]}[/]"
        table.add_row(*text)
    return table


def markdown(rows: list[Row]) -> str:
    """The results as a Markdown table (for docs/benchmarks.md)."""
    align = {"left": "---", "right": "---:", "center": ":---:"}
    lines = [
        "| " + " | ".join(header for header, _ in HEADERS) + " |",
        "| " + " | ".join(align[justify] for _, justify in HEADERS) + " |",
    ]
    for row in rows:
        text = cells(row)
        if text[-1] == "FAIL":
            text[-1] = "**FAIL**"
        lines.append("| " + " | ".join(text) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down sizes (smoke run)")
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    parser.add_argument(
        "--only",
        default=",".join(MEASURES),
        help=f"comma-separated subset of {','.join(MEASURES)} (default: all)",
    )
    parser.add_argument(
        "--no-peer", action="store_true", help="skip MLflow (Steward's figures only)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run Steward's measures under cProfile and write .prof files to DIR "
        "(Steward's timings are then inflated)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally save JSON."""
    args = parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(MEASURES)
    if unknown:
        raise SystemExit(f"unknown measures {sorted(unknown)}; choose from {MEASURES}")
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    repeats = QUICK_REPEATS if args.quick else FULL_REPEATS
    # Wide enough for the table when the output is a file or a pipe.
    console = Console(width=None if sys.stdout.isatty() else 200)
    snippet_measures = [name for name in only if name != "import"]
    peer_python = None if args.no_peer else str(mlflow_python())
    config: dict[str, Any] = {
        "sizes": sizes,
        "repeats": repeats,
        "only": snippet_measures,
        "seed_runs": seed_runs(sizes["search_runs"]) if "search" in only else [],
    }
    steward_raw: dict[str, Any] = {}
    mlflow_raw: dict[str, Any] | None = None
    if snippet_measures:
        with tempfile.TemporaryDirectory(prefix="steward-bench-steward-") as root:
            console.print("[bold]Steward[/] measuring…")
            profile = str(args.profile.resolve()) if args.profile else None
            steward_raw = run_snippet(
                sys.executable,
                SNIPPETS / "steward_tracking.py",
                {**config, "root": root, "profile_dir": profile},
            )
        if peer_python:
            with tempfile.TemporaryDirectory(prefix="steward-bench-mlflow-") as root:
                console.print(f"[bold]MLflow[/] ({MLFLOW_SPEC}) measuring…")
                mlflow_raw = run_snippet(
                    peer_python,
                    SNIPPETS / "mlflow_tracking.py",
                    {**config, "root": root},
                    env=MLFLOW_ENV,
                )
    imports = None
    if "import" in only:
        console.print("Timing imports…")
        imports = {
            "steward": import_seconds(sys.executable, "steward", repeats["import"], {}),
            "mlflow": (
                import_seconds(peer_python, "mlflow", repeats["import"], MLFLOW_ENV)
                if peer_python
                else None
            ),
        }
    rows = build_rows(steward_raw, mlflow_raw, imports, full_sizes=not args.quick)
    mlflow_version = (mlflow_raw or {}).get("version", MLFLOW_SPEC.split("==")[1])
    title = (
        f"Tracking: Steward {steward_raw.get('version', '')} vs MLflow {mlflow_version}"
        f"{' (--quick sizes: indicative only)' if args.quick else ''}"
        f"{' (profiled: Steward timings inflated)' if args.profile else ''}"
    )
    console.print(render(rows, title))
    if mlflow_raw and "search" in steward_raw and "search" in mlflow_raw:
        same = steward_raw["search"]["search_names"] == mlflow_raw["search"]["search_names"]
        console.print(
            "(d) both tools return the same top 100: "
            + ("[green]yes[/]" if same else "[red]NO: results differ[/]")
        )
    if mlflow_raw or steward_raw:
        first = {
            name: raw["warm_up"]["first_run_s"]
            for name, raw in (("Steward", steward_raw), ("MLflow", mlflow_raw or {}))
            if "warm_up" in raw
        }
        console.print(
            "First run of a process (untimed warm-up, not in the table): "
            + ", ".join(f"{name} {seconds * 1000:,.0f} ms" for name, seconds in first.items())
        )
    console.print(f"MLflow batch method: {(mlflow_raw or {}).get('batch', {}).get('method', '-')}")
    console.print(
        "Ratio vs ref: against MLflow 3.17.2's earlier reference figures "
        f"({', '.join(f'{key} {value:g}' for key, value in MLFLOW_REFERENCE.items())}); "
        "pass/fail uses the ratio from this run."
    )
    if args.json:
        for side in (steward_raw, mlflow_raw or {}):
            side.get("search", {}).pop("search_names", None)
        payload = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join([interpreter_name(), *sys.argv]),
            "machine": machine(),
            "quick": args.quick,
            "profiled": bool(args.profile),
            "sizes": sizes,
            "repeats": repeats,
            "mlflow_spec": MLFLOW_SPEC,
            "mlflow_reference": MLFLOW_REFERENCE,
            "steward": steward_raw,
            "mlflow": mlflow_raw,
            "imports": imports,
            "rows": [asdict(row) for row in rows],
            "markdown": markdown(rows),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
        console.print(f"Saved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
