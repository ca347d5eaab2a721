"""Steward: the machine-learning lifecycle in one install.

The SDK lives here: tracking functions at the top level, and the lifecycle
modules (``steward.data``, ``steward.models``…) as lazily imported
submodules, so ``import steward`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PipelineFailed,
    StewardError,
)
from steward.store.records import Experiment, Metric, Run, RunPage, RunStatus
from steward.tracking.active_run import ActiveRun
from steward.tracking.autolog import autolog
from steward.tracking.fluent import (
    active_run,
    download_artifact,
    end_run,
    flush,
    get_metric_history,
    get_run,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    start_run,
)
from steward.workspace import Workspace, open_workspace, use_workspace

if TYPE_CHECKING:
    from steward import agent, checks, data, governance, models, monitoring, pipelines, serving
    from steward.agent import triggers
    from steward.models.gate import gate
    from steward.pipelines.definition import pipeline
    from steward.pipelines.steps import step

__version__ = "0.1.0"

_LAZY_SUBMODULES = frozenset(
    {"agent", "checks", "data", "governance", "models", "monitoring", "pipelines", "serving"}
)


_LAZY_ATTRIBUTES = {
    "gate": "steward.models.gate",
    "pipeline": "steward.pipelines.definition",
    "step": "steward.pipelines.steps",
    "triggers": "steward.agent",
}
"""Names whose modules are imported on first use: the pipeline decorators (the pipelines
package is not light), the retraining gate and ``steward.triggers``
(``steward.agent.triggers``)."""


def __getattr__(name: str) -> object:
    """Import lifecycle submodules (``steward.data``…), the pipeline decorators and the gate
    on first access, keeping ``import steward`` fast."""
    import importlib

    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"steward.{name}")
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'steward' has no attribute {name!r}")


__all__ = [
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
