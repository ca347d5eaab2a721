"""Triggers: what starts a pipeline — a cron schedule, a new dataset version, an alert of a
monitor, or a model's performance dropping below a threshold.

::

    steward.triggers.add("nightly", pipeline="jobs.train:pipeline", cron="0 2 * * *")
    steward.triggers.add("fresh", pipeline="jobs.train:pipeline", new_data="patients")
    steward.triggers.add("drift", pipeline="jobs.train:pipeline", alert="churn-monitor")
    steward.triggers.add("drop", pipeline="jobs.train:pipeline", performance="churn:f1<0.8")

A trigger starts from now: a new one never fires for what happened before it
was added. The agent (``steward agent``) watches triggers and fires them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput, NotFound
from steward.store.agent_records import FiringRecord, TriggerRecord
from steward.store.records import now_ms
from steward.store.validation import check_name

if TYPE_CHECKING:
    from steward.workspace import Workspace

KINDS = ("cron", "new-data", "alert", "performance")
"""The kinds of trigger, as ``--cron`` and ``--on KIND`` name them."""

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_PIPELINE = re.compile(rf"^{_IDENTIFIER}(\.{_IDENTIFIER})*:{_IDENTIFIER}$")
_PERFORMANCE = re.compile(
    r"^(?P<model>[^:<>]+):(?P<metric>[A-Za-z0-9_.\-]+)\s*<\s*"
    r"(?P<threshold>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)$"
)


def agent_workspace(workspace: Workspace | None = None) -> Workspace:
    """The workspace the agent's state lives in: it needs the metadata store itself.

    Raises:
        InvalidInput: the workspace is a Steward server's (``STEWARD_URI``).
    """
    from steward.workspace import current_workspace

    ws = workspace or current_workspace()
    if ws.settings.remote:
        raise InvalidInput(
            "triggers, budgets and the agent work on the metadata store itself, not through "
            "a Steward server: run them on the server's host with STEWARD_STORE_URL (and "
            "STEWARD_BLOB_URL) set to its stores, and unset STEWARD_URI."
        )
    return ws


def check_pipeline(pipeline: str) -> str:
    """Validate a pipeline reference ``package.module:function`` and that its module exists.

    Only dotted import paths are accepted (no file paths): a trigger runs
    unattended, so what it imports must be an installed, importable module (or one in
    the current folder, as for ``steward pipeline run``).

    Raises:
        InvalidInput: not ``module:function``, or the module cannot be found.
    """
    if not isinstance(pipeline, str) or not _PIPELINE.match(pipeline):
        raise InvalidInput(
            f"pipeline {pipeline!r} is not a dotted import path 'package.module:function' "
            "(e.g. 'jobs.retrain:pipeline'); file paths are not accepted for triggers."
        )
    module = pipeline.partition(":")[0]
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as running it does (steward pipeline run)
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise InvalidInput(
            f"pipeline {pipeline!r}: module {module!r} cannot be found; install its package "
            "or run from the folder that holds it (PYTHONPATH)."
        )
    return pipeline


def model_name(reference: str) -> str:
    """The registered model's name in ``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION``."""
    return reference.partition("@")[0].partition("/")[0].strip()


def _alert_spec(text: str, ws: Workspace) -> dict[str, Any]:
    from steward.monitoring.monitors.definition import get_monitor, rule_from_spec

    monitor_name, _, rule = text.partition(":")
    monitor = get_monitor(monitor_name.strip(), ws)
    rule = rule.strip()
    if rule:
        rules = [rule_from_spec(spec) for spec in monitor.rules]
        matching = [r.key for r in rules if rule in (r.key, r.name, r.expression, r.metric)]
        if not matching:
            known = ", ".join(repr(r.key) for r in rules) or "none"
            raise NotFound(
                f"monitor {monitor.name!r} has no alert rule {rule!r} (its rules: {known}); "
                "use --on alert MONITOR for any of its alerts."
            )
        rule = matching[0]
    return {"monitor": monitor.name, "rule": rule or None}


def _performance_spec(text: str, ws: Workspace) -> dict[str, Any]:
    match = _PERFORMANCE.match(text.strip())
    if match is None:
        raise InvalidInput(
            f"performance trigger {text!r} must be MODEL:METRIC<THRESHOLD, e.g. 'churn:f1<0.8'."
        )
    model = match["model"].strip()
    ws.store.registry.get_model(model)
    return {"model": model, "metric": match["metric"], "threshold": float(match["threshold"])}


def _kind_and_spec(
    ws: Workspace,
    cron: str | None,
    new_data: str | None,
    alert: str | None,
    performance: str | None,
) -> tuple[str, dict[str, Any], int]:
    """The trigger's kind, spec and starting cursor (it looks only at what comes next)."""
    given = {
        "cron": cron,
        "new-data": new_data,
        "alert": alert,
        "performance": performance,
    }
    chosen = [kind for kind, value in given.items() if value is not None]
    if len(chosen) != 1:
        raise InvalidInput(
            "give exactly one of --cron EXPR, --on new-data DATASET, --on alert "
            f"MONITOR[:RULE] or --on performance MODEL:METRIC<X (got {len(chosen)})."
        )
    kind = chosen[0]
    if kind == "cron":
        from steward.monitoring.monitors.schedule import parse_cron

        assert cron is not None
        schedule = parse_cron(cron)
        return kind, {"cron": schedule.expression}, now_ms()
    if kind == "new-data":
        assert new_data is not None
        dataset = ws.store.datasets.get_dataset(new_data.strip())
        return kind, {"dataset": dataset.name}, ws.store.audit.head()[0]
    cursor = ws.store.monitoring.latest_event_pk()
    if kind == "alert":
        assert alert is not None
        return kind, _alert_spec(alert, ws), cursor
    assert performance is not None
    return kind, _performance_spec(performance, ws), cursor


def add(
    name: str,
    pipeline: str,
    *,
    cron: str | None = None,
    new_data: str | None = None,
    alert: str | None = None,
    performance: str | None = None,
    params: dict[str, Any] | None = None,
    model: str | None = None,
    workspace: Workspace | None = None,
) -> TriggerRecord:
    """Add a trigger that runs ``pipeline`` on exactly one of the four causes.

    Args:
        name: the trigger's name.
        pipeline: ``package.module:function`` of a ``@steward.pipeline``.
        cron: a five-field cron schedule (``"0 2 * * *"``).
        new_data: a dataset: fire on each new version.
        alert: ``MONITOR`` or ``MONITOR:RULE``: fire when the monitor's alert fires.
        performance: ``MODEL:METRIC<X``: fire when a monitor of the model measures the
            metric (``f1`` or ``performance.f1``) below X.
        params: the pipeline's parameters.
        model: the registered model whose retraining budget the firings count against
            (default: the model of a performance trigger).
        workspace: the stores (default: the current workspace).

    Raises:
        InvalidInput: a bad name, pipeline path, cron (the error names the field) or spec.
        NotFound: the dataset, monitor, rule or model does not exist.
        Conflict: a trigger of this name exists.
    """
    ws = agent_workspace(workspace)
    check_name("trigger", name)
    check_pipeline(pipeline)
    kind, spec, cursor = _kind_and_spec(ws, cron, new_data, alert, performance)
    if model is None and kind == "performance":
        model = spec["model"]
    if model is not None:
        model = ws.store.registry.get_model(model_name(model)).name
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("params must be a dict of the pipeline's parameters.")
    return ws.store.agent.create_trigger(
        name,
        pipeline=pipeline,
        params=dict(params or {}),
        kind=kind,
        spec=spec,
        model=model,
        cursor=cursor,
        actor=ws.actor,
    )


def get(name: str, workspace: Workspace | None = None) -> TriggerRecord:
    """The trigger called ``name``.

    Raises:
        NotFound: no such trigger.
    """
    return agent_workspace(workspace).store.agent.get_trigger(name)


def list_triggers(workspace: Workspace | None = None) -> list[TriggerRecord]:
    """Every trigger, by name."""
    return agent_workspace(workspace).store.agent.list_triggers()


def pause(name: str, workspace: Workspace | None = None) -> TriggerRecord:
    """Stop a trigger from firing; what happens meanwhile is not fired when it resumes.

    Raises:
        NotFound: no such trigger.
    """
    ws = agent_workspace(workspace)
    return ws.store.agent.set_paused(name, True, ws.actor)


def resume(name: str, workspace: Workspace | None = None) -> TriggerRecord:
    """Let a paused trigger fire again, for what happens from now on.

    Raises:
        NotFound: no such trigger.
    """
    ws = agent_workspace(workspace)
    record = ws.store.agent.get_trigger(name)
    if record.paused:
        _skip_ahead(ws, record)
    return ws.store.agent.set_paused(name, False, ws.actor)


def _skip_ahead(ws: Workspace, record: TriggerRecord) -> None:
    """Move a paused trigger's cursor to now, so resuming fires nothing from the pause."""
    cursor = {
        "cron": now_ms(),
        "new-data": ws.store.audit.head()[0],
    }.get(record.kind)
    if cursor is None:
        cursor = ws.store.monitoring.latest_event_pk()
    ws.store.agent.move_cursor(record.name, cursor)


def delete(name: str, workspace: Workspace | None = None) -> None:
    """Delete a trigger (its firings stay in the history and count against budgets).

    Raises:
        NotFound: no such trigger.
        Conflict: one of its firings is in progress.
    """
    ws = agent_workspace(workspace)
    ws.store.agent.delete_trigger(name, ws.actor)


def history(
    name: str | None = None, limit: int = 50, workspace: Workspace | None = None
) -> list[FiringRecord]:
    """Firings, newest first (of one trigger when ``name`` is given).

    Raises:
        NotFound: no such trigger (and no firings under that name).
        InvalidInput: a limit outside 1-10,000.
    """
    ws = agent_workspace(workspace)
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10,000.")
    found = ws.store.agent.firings(trigger=name, limit=limit)
    if name is not None and not found:
        ws.store.agent.get_trigger(name)
    return found
