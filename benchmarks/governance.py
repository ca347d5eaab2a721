"""Governance: Steward beside fairlearn, pandera and SHAP, plus the audit log and lineage.

Each peer runs in its own venv under ``.bench/venvs`` (made on first use) on the
same data, written once to a temporary folder:

    fairness      fairlearn 0.15.0 MetricFrame (accuracy, selection rate) on 1M rows
                  x 2 sensitive columns vs steward.governance.fairness_report; the
                  per-group values and the demographic parity difference must be equal.
    data checks   the same expectations as a raw pandera 0.35.0 schema vs a Steward
                  suite (1M rows x 10 columns), lazy validation, best of 3.
    explanations  permutation importance (100-tree forest, 10k x 20, 5 repeats): Steward
                  vs scikit-learn's; SHAP TreeExplainer (shap 0.51.0, its own venv) vs
                  steward.governance.shap_importance on the same rows (--shap-rows).
    audit         verify a chain of 1M events (SQLite).
    lineage       "which data trained the model that made this prediction?" from a request
                  id, on a store with 10,000 runs (median of 200 queries).

Run::

    python benchmarks/governance.py                 # everything
    python benchmarks/governance.py --quick         # smaller sizes, a smoke run
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from peers import ensure_venv, run_snippet
from rich.console import Console
from rich.table import Table

SNIPPETS = Path(__file__).resolve().parent / "snippets"
FAIRLEARN = "fairlearn==0.15.0"
PANDERA = "pandera==0.35.0"
SHAP = "shap==0.51.0"


def _pins(*names: str) -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in names]


# -- fairness ------------------------------------------------------------------------------


def bench_fairness(rows: int, scratch: Path) -> dict[str, Any]:
    """Steward's fairness report vs fairlearn's MetricFrame on the same arrays."""
    from steward.governance import fairness_report

    rng = np.random.default_rng(0)
    sex = rng.choice(np.array(["F", "M"]), rows)
    region = rng.choice(np.array(["north", "south", "east", "west", "centre"]), rows)
    y_true = rng.integers(0, 2, rows)
    y_pred = np.where(rng.random(rows) < 0.8, y_true, 1 - y_true)
    path = scratch / "fairness.npz"
    np.savez(path, y_true=y_true, y_pred=y_pred, sex=sex, region=region)
    frame = pd.DataFrame({"sex": sex, "region": region})
    fairness_report(y_true[:100], y_pred[:100], ["sex", "region"], data=frame.head(100))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        ours = fairness_report(y_true, y_pred, ["sex", "region"], data=frame)
        times.append(time.perf_counter() - start)
    python = ensure_venv("fairlearn", [FAIRLEARN, *_pins("scikit-learn", "pandas", "numpy")])
    theirs = run_snippet(python, SNIPPETS / "fairlearn_metricframe.py", {"data": str(path)})
    equal = len(theirs["groups"]) == len(ours.groups) and all(
        mine.group == dict(zip(("sex", "region"), row["group"], strict=True))
        and abs(mine.accuracy - row["accuracy"]) < 1e-12
        and abs(mine.selection_rate - row["selection_rate"]) < 1e-12
        for mine, row in zip(ours.groups, theirs["groups"], strict=True)
    )
    equal = (
        equal
        and abs(ours.demographic_parity_difference - theirs["demographic_parity_difference"])
        < 1e-12
    )
    return {"ours": min(times), "peer": theirs["seconds"], "equal": equal}


# -- data checks ------------------------------------------------------------------------------


def bench_data_checks(rows: int, scratch: Path) -> dict[str, Any]:
    """A Steward suite vs the same raw pandera schema, 10 columns."""
    from steward import checks

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(8)})
    frame["site"] = rng.choice(["a", "b", "c", "d"], rows)
    frame["id"] = np.arange(rows)
    path = scratch / "checks.parquet"
    frame.to_parquet(path)
    frame = pd.read_parquet(path)
    suite = checks.Suite(
        "bench",
        [checks.Column(f"x{i}", dtype="float64", nullable=False, min=-10, max=10) for i in range(8)]
        + [
            checks.Column("site", allowed=["a", "b", "c", "d"], nullable=False),
            checks.Column("id", dtype="int64", unique=True, nullable=False),
        ],
    )
    suite.run(frame.head(100))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        report = suite.run(frame)
        times.append(time.perf_counter() - start)
    assert report.passed
    python = ensure_venv("pandera", [PANDERA, *_pins("pandas", "numpy", "pyarrow")])
    theirs = run_snippet(python, SNIPPETS / "pandera_raw.py", {"data": str(path), "repeats": 3})
    return {"ours": min(times), "peer": theirs["seconds"]}


# -- explanations -------------------------------------------------------------------------------


def bench_explanations(rows: int, shap_rows: int, scratch: Path) -> dict[str, Any]:
    """Permutation importance (ours vs scikit-learn's) and SHAP (ours vs shap in its venv)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance as sklearn_permutation

    from steward.governance import permutation_importance, shap_importance

    rng = np.random.default_rng(2)
    features = pd.DataFrame(rng.normal(size=(rows, 20)), columns=[f"f{i:02d}" for i in range(20)])
    target = (features["f00"] + 0.5 * features["f01"] + rng.normal(size=rows) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=1)
    model.fit(features, target)
    data = features.assign(y=target)
    start = time.perf_counter()
    permutation_importance(model, data, "y", repeats=5, max_rows=None)
    ours_permutation = time.perf_counter() - start
    start = time.perf_counter()
    sklearn_permutation(model, features, target, n_repeats=5, random_state=0)
    sklearn_seconds = time.perf_counter() - start
    shap_input = features.head(shap_rows)
    start = time.perf_counter()
    ours_shap = shap_importance(model, shap_input, max_rows=None)
    ours_shap_seconds = time.perf_counter() - start
    (scratch / "forest.pkl").write_bytes(pickle.dumps(model))
    shap_input.to_parquet(scratch / "shap.parquet")
    python = ensure_venv("shap", [SHAP, *_pins("scikit-learn", "pandas", "numpy", "pyarrow")])
    theirs = run_snippet(
        python,
        SNIPPETS / "shap_tree.py",
        {
            "model": str(scratch / "forest.pkl"),
            "data": str(scratch / "shap.parquet"),
            "rows": shap_rows,
        },
    )
    mine = {item.feature: item.importance for item in ours_shap.features}
    equal = np.allclose([mine[name] for name in features.columns], theirs["mean_abs"])
    return {
        "permutation": ours_permutation,
        "sklearn": sklearn_seconds,
        "shap_ours": ours_shap_seconds,
        "shap_peer": theirs["seconds"],
        "shap_equal": bool(equal),
    }


# -- audit log -----------------------------------------------------------------------------------


def bench_audit(events: int, scratch: Path) -> dict[str, Any]:
    """Verify a chain of ``events`` events written straight into a SQLite store."""
    import sqlite3

    from steward.store.audit_chain import GENESIS_HASH, event_hash
    from steward.store.metadata import MetadataStore

    path = scratch / "audit.db"
    MetadataStore(f"sqlite:///{path}").close()
    previous = GENESIS_HASH
    rows = []
    at = 1_767_000_000_000
    for seq in range(1, events + 1):
        subject = f"run:{seq:032x}"
        action = "run.end" if seq % 2 else "run.start"
        digest = event_hash(
            seq, at + seq, "bench", action, subject, "RUNNING", "FINISHED", None, None, previous
        )
        rows.append(
            (seq, at + seq, "bench", action, subject, "RUNNING", "FINISHED", previous, digest)
        )
        previous = digest
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO audit_events (seq, at, actor, action, subject, from_state, to_state, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (events, previous)
        )
    store = MetadataStore(f"sqlite:///{path}")
    start = time.perf_counter()
    result = store.audit.verify()
    seconds = time.perf_counter() - start
    store.close()
    return {"seconds": seconds, "ok": result.ok and result.events == events}


# -- lineage --------------------------------------------------------------------------------------


def bench_lineage(runs: int, scratch: Path) -> dict[str, Any]:
    """The prediction → training data query on a store with ``runs`` runs."""
    from sqlalchemy import insert

    from steward.governance.lineage import lineage, trained_on
    from steward.store import schema as t
    from steward.workspace import open_workspace

    workspace = open_workspace(home=scratch / "lineage", actor="bench")
    engine = workspace.store.engine
    now = 1_767_000_000_000
    run_ids = [uuid.uuid4().hex for _ in range(runs)]
    requests: list[str] = []
    with engine.begin() as connection:
        connection.execute(
            insert(t.experiments).values(id="e", name="bench", created_at=now, created_by="bench")
        )
        connection.execute(
            insert(t.runs),
            [
                {
                    "id": run_id,
                    "experiment_pk": 1,
                    "name": f"run-{i}",
                    "status": "FINISHED",
                    "start_time": now + i,
                    "created_by": "bench",
                }
                for i, run_id in enumerate(run_ids)
            ],
        )
        connection.execute(
            insert(t.datasets),
            [
                {
                    "id": uuid.uuid4().hex,
                    "name": f"data-{i}",
                    "kind": "table",
                    "created_at": now,
                    "created_by": "bench",
                }
                for i in range(50)
            ],
        )
        connection.execute(
            insert(t.dataset_versions),
            [
                {
                    "id": uuid.uuid4().hex,
                    "dataset_pk": i % 50 + 1,
                    "version": i // 50 + 1,
                    "digest": f"d{i}",
                    "size": 1,
                    "file_count": 1,
                    "created_at": now,
                    "created_by": "bench",
                }
                for i in range(1000)
            ],
        )
        connection.execute(
            insert(t.dataset_lineage),
            [
                {
                    "run_pk": i + 1,
                    "version_pk": (i * 7 + k) % 1000 + 1,
                    "direction": "input",
                    "created_at": now,
                }
                for i in range(runs)
                for k in range(2)
            ],
        )
        connection.execute(
            insert(t.registered_models),
            [
                {"name": f"model-{i}", "created_at": now, "created_by": "bench", "updated_at": now}
                for i in range(100)
            ],
        )
        connection.execute(
            insert(t.model_versions),
            [
                {
                    "model_pk": i % 100 + 1,
                    "version": i // 100 + 1,
                    "run_pk": i + 1,
                    "artifact_path": "model",
                    "metadata_digest": "m",
                    "flavor": "sklearn",
                    "status": "approved",
                    "created_at": now,
                    "created_by": "bench",
                    "updated_at": now,
                }
                for i in range(runs)
            ],
        )
        for segment in range(1000):
            model, version = segment % 100, segment // 100 + 1
            pk = connection.execute(
                insert(t.prediction_segments).values(
                    model=f"model-{model}",
                    version=version,
                    day="2026-01-01",
                    blob_digest="b",
                    row_count=100,
                    min_time=now,
                    max_time=now + 1,
                    created_at=now,
                )
            ).inserted_primary_key[0]
            batch = [uuid.uuid4().hex for _ in range(100)]
            requests += batch
            connection.execute(
                insert(t.prediction_requests),
                [
                    {
                        "request_id": request,
                        "segment_pk": pk,
                        "model": f"model-{model}",
                        "version": version,
                        "at": now,
                    }
                    for request in batch
                ],
            )
    rng = np.random.default_rng(3)
    chosen = [requests[i] for i in rng.integers(0, len(requests), 200)]
    trained_on(chosen[0], workspace=workspace)
    times = []
    for request in chosen:
        start = time.perf_counter()
        found = trained_on(request, workspace=workspace)
        times.append((time.perf_counter() - start) * 1000)
        assert found and len(found[0].data) == 2
    graph_times = []
    for request in chosen[:20]:
        start = time.perf_counter()
        lineage(f"request:{request}", "up", workspace=workspace)
        graph_times.append((time.perf_counter() - start) * 1000)
    workspace.close()
    return {"median_ms": statistics.median(times), "graph_ms": statistics.median(graph_times)}


# -- report ---------------------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "[green]met[/green]" if met else "[red]not met[/red]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="Smaller sizes (a smoke run).")
    parser.add_argument("--shap-rows", type=int, default=1000, help="Rows SHAP explains.")
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="fairness, checks, explanations, audit, lineage (default: all)",
    )
    args = parser.parse_args()
    quick = args.quick
    wanted = set(args.only or ["fairness", "checks", "explanations", "audit", "lineage"])
    table = Table(title="Governance benchmark", header_style="bold")
    for column in ("measure", "Steward", "peer", "ratio", "target", "verdict"):
        table.add_column(column)
    with tempfile.TemporaryDirectory(prefix="steward-governance-") as folder:
        scratch = Path(folder)
        if "fairness" in wanted:
            rows = 100_000 if quick else 1_000_000
            result = bench_fairness(rows, scratch)
            speedup = result["peer"] / result["ours"]
            table.add_row(
                f"fairness, {rows:,} rows x 2 sensitive (equal: {result['equal']})",
                f"{result['ours']:.3f} s",
                f"MetricFrame {result['peer']:.2f} s",
                f"{speedup:.1f}x faster",
                ">= 10x, equal values",
                _verdict(speedup >= 10 and result["equal"]),
            )
        if "checks" in wanted:
            rows = 100_000 if quick else 1_000_000
            result = bench_data_checks(rows, scratch)
            ratio = result["ours"] / result["peer"]
            table.add_row(
                f"data checks, {rows:,} x 10",
                f"{result['ours']:.3f} s",
                f"raw pandera {result['peer']:.3f} s",
                f"{ratio:.2f}x",
                "<= 1.5x",
                _verdict(ratio <= 1.5),
            )
        if "explanations" in wanted:
            rows = 2_000 if quick else 10_000
            shap_rows = min(args.shap_rows, rows) if not quick else 200
            result = bench_explanations(rows, shap_rows, scratch)
            table.add_row(
                f"permutation importance, {rows:,} x 20, 5 repeats",
                f"{result['permutation']:.2f} s",
                f"scikit-learn {result['sklearn']:.2f} s",
                f"{result['sklearn'] / result['permutation']:.1f}x faster",
                "(timing)",
                "-",
            )
            table.add_row(
                f"SHAP TreeExplainer, {shap_rows:,} rows (equal: {result['shap_equal']})",
                f"{result['shap_ours']:.2f} s",
                f"shap {result['shap_peer']:.2f} s",
                f"{result['shap_peer'] / result['shap_ours']:.2f}x",
                "(timing)",
                _verdict(result["shap_equal"]),
            )
        if "audit" in wanted:
            events = 100_000 if quick else 1_000_000
            result = bench_audit(events, scratch)
            table.add_row(
                f"audit verify, {events:,} events (intact: {result['ok']})",
                f"{result['seconds']:.2f} s",
                "-",
                "-",
                "<= 5 s",
                _verdict(result["seconds"] <= 5 * events / 1_000_000 and result["ok"]),
            )
        if "lineage" in wanted:
            runs = 2_000 if quick else 10_000
            result = bench_lineage(runs, scratch)
            table.add_row(
                f"prediction → training data, {runs:,} runs",
                f"{result['median_ms']:.1f} ms (graph {result['graph_ms']:.0f} ms)",
                "-",
                "-",
                "<= 50 ms",
                _verdict(result["median_ms"] <= 50),
            )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
