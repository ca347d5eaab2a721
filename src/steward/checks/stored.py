"""Running suites on dataset versions and keeping their results in the store.

Results are stored against what was checked: a dataset version (``name:3``),
a model version (``models:/name/2``), or both, so the retraining gate and
model cards read them back; each stored run is also an audit event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.checks.result import CheckReport, CheckResult
from steward.errors import InvalidInput
from steward.store.governance import StoredCheckResult, StoredCheckRun

if TYPE_CHECKING:
    import pandas as pd

    from steward.checks.data_suite import Suite
    from steward.data.versions import DatasetVersion
    from steward.workspace import Workspace


def _workspace(workspace: Workspace | None) -> Workspace:
    from steward.workspace import current_workspace

    return workspace or current_workspace()


def as_frame(data: Any) -> tuple[pd.DataFrame, DatasetVersion | None]:
    """A pandas DataFrame from a DataFrame (pandas, polars), arrow table, dataset version
    or ``name:3`` reference, and the version it came from."""
    import pandas as pd

    from steward.data.versions import DatasetVersion, resolve

    if isinstance(data, pd.DataFrame):
        return data, None
    if isinstance(data, str | DatasetVersion):
        version = resolve(data)
        return version.to_pandas(), version
    if hasattr(data, "to_pandas"):
        return data.to_pandas(), None
    raise InvalidInput(
        f"cannot check {type(data).__name__}; give a DataFrame or a dataset version (name:3)."
    )


def _model_key(model: Any) -> tuple[str, int] | None:
    """(name, version) from ``models:/name/2``, ``name/2``, ``name@alias`` or a ModelVersion."""
    if model is None:
        return None
    if hasattr(model, "name") and hasattr(model, "version") and isinstance(model.version, int):
        return str(model.name), int(model.version)
    from steward.models.registry import resolve

    text = str(model)
    found = resolve(text if text.startswith("models:/") else f"models:/{text}")
    return found.name, found.version


def save_report(
    report: CheckReport,
    *,
    dataset: Any = None,
    model: Any = None,
    workspace: Workspace | None = None,
) -> StoredCheckRun:
    """Store a report's results against a dataset version and/or a model version.

    Args:
        report: what ``run_checks`` or ``Suite.run`` returned.
        dataset: a ``DatasetVersion`` or ``name:3``.
        model: a ``ModelVersion``, ``models:/name/2`` or ``name@alias``.
        workspace: the workspace (the current one by default).
    """
    from steward.data.versions import resolve

    ws = _workspace(workspace)
    version = None if dataset is None else resolve(dataset)
    results = [
        StoredCheckResult(
            r.name, r.kind, r.severity, r.passed, r.value, r.threshold, dict(r.details)
        )
        for r in report.results
    ]
    return ws.store.governance.record_checks(
        report.suite,
        results,
        ws.actor,
        dataset=None if version is None else (version.id, version.ref),
        model=_model_key(model),
    )


def run_suite(
    suite: Suite,
    dataset: DatasetVersion | str,
    *,
    save: bool = True,
    workspace: Workspace | None = None,
) -> tuple[CheckReport, StoredCheckRun | None]:
    """Run a data suite on a dataset version and (by default) store the results with it."""
    from steward.data.versions import resolve

    version = resolve(dataset)
    report = suite.run(version.to_pandas(), dataset=version)
    stored = save_report(report, dataset=version, workspace=workspace) if save else None
    return report, stored


def check_history(
    *,
    dataset: Any = None,
    model: Any = None,
    suite: str | None = None,
    limit: int = 20,
    workspace: Workspace | None = None,
) -> list[StoredCheckRun]:
    """Stored check runs of a dataset version and/or model version, newest first."""
    from steward.data.versions import resolve

    ws = _workspace(workspace)
    return ws.store.governance.check_runs(
        dataset_version_id=None if dataset is None else resolve(dataset).id,
        model=_model_key(model),
        suite=suite,
        limit=limit,
    )


def as_results(run: StoredCheckRun) -> list[CheckResult]:
    """A stored run's results as ``CheckResult`` objects."""
    return [
        CheckResult(r.name, r.passed, r.value, r.threshold, r.details, r.kind, r.severity)
        for r in run.results
    ]
