"""The public face of ``steward`` is pinned, and importing it stays light and fast."""

from __future__ import annotations

import subprocess
import sys

import steward

EXPECTED = [
    "ActiveRun",
    "Conflict",
    "Experiment",
    "IntegrityError",
    "InvalidInput",
    "Metric",
    "NotFound",
    "PermissionDenied",
    "PipelineFailed",
    "Run",
    "RunPage",
    "RunStatus",
    "StewardError",
    "Workspace",
    "__version__",
    "active_run",
    "agent",
    "autolog",
    "checks",
    "data",
    "download_artifact",
    "end_run",
    "flush",
    "gate",
    "get_metric_history",
    "get_run",
    "governance",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "models",
    "monitoring",
    "open_workspace",
    "pipeline",
    "pipelines",
    "search_runs",
    "serving",
    "set_experiment",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
    "triggers",
    "use_workspace",
]


def test_all_is_pinned_and_sorted() -> None:
    assert steward.__all__ == EXPECTED
    assert sorted(steward.__all__) == steward.__all__
    for name in steward.__all__:
        assert getattr(steward, name) is not None


def test_import_is_fast_and_pulls_in_no_heavy_dependency() -> None:
    code = (
        "import sys, time\n"
        "start = time.perf_counter()\n"
        "import steward\n"
        "elapsed = time.perf_counter() - start\n"
        "heavy = [m for m in ('sqlalchemy', 'pandas', 'numpy', 'sklearn', 'ray', 'fastapi',"
        " 'plotly', 's3fs', 'pyarrow', 'alembic', 'typer', 'pandera', 'shap', 'fairlearn')"
        " if m in sys.modules]\n"
        "print(elapsed, ','.join(heavy))\n"
    )
    timings = []
    for _ in range(3):
        output = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        timings.append(float(output[0]))
        assert len(output) == 1, f"import steward loaded {output[1]}"
    assert min(timings) < 0.3
