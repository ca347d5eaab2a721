"""Running a pipeline once: the executor, the progress, the runner, the failure.

``Pipeline.run`` and ``steward.pipelines.resume`` both come here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput, PipelineFailed
from steward.store.pipeline_records import PipelineRunRecord, StepStatus
from steward.store.records import RunStatus

if TYPE_CHECKING:
    from steward.pipelines.definition import Pipeline
    from steward.pipelines.executor import Executor
    from steward.pipelines.runner import ProgressListener
    from steward.workspace import Workspace


def _workspace() -> Workspace:
    from steward.workspace import current_workspace

    return current_workspace()


def _executor(executor: str | Executor, ray_address: str | None) -> Executor:
    from steward.pipelines.executor import create_executor

    if not isinstance(executor, str):
        return executor
    if ray_address is not None and executor != "ray":
        raise InvalidInput(f"--ray-address is for the ray executor, not {executor!r}.")
    return (
        create_executor(executor, address=ray_address)
        if executor == "ray"
        else create_executor(executor)
    )


def _listener(progress: bool | ProgressListener | None) -> ProgressListener | None:
    if progress is None:
        progress = sys.stderr.isatty()
    if progress is True:
        from steward.pipelines.progress import ConsoleProgress

        return ConsoleProgress()
    if progress is False:
        return None
    return progress


def failure_message(record: PipelineRunRecord) -> str:
    """One paragraph saying which steps failed and what to do."""
    failed = [step for step in record.steps if step.status == StepStatus.FAILED]
    skipped = sum(step.status == StepStatus.SKIPPED for step in record.steps)
    reasons = "; ".join(f"step {step.name!r}: {step.error}" for step in failed) or "stopped"
    tail = f" ({skipped} dependent step{'s' if skipped != 1 else ''} skipped)" if skipped else ""
    return (
        f"pipeline {record.pipeline!r} run {record.id} failed: {reasons}{tail}. See "
        f"'steward pipeline show {record.id}'; once fixed, 'steward pipeline resume "
        f"{record.id}' reruns from the failure, reusing what succeeded."
    )


def execute(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    executor: str | Executor = "inline",
    cache: bool = True,
    ray_address: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    progress: bool | ProgressListener | None = None,
    raise_on_failure: bool = True,
    resumed_from: PipelineRunRecord | None = None,
) -> PipelineRunRecord:
    """Run ``pipeline`` once (see ``steward.pipelines.run`` for the options); with
    ``resumed_from``, reuse what that run's steps computed."""
    from steward.pipelines.runner import PipelineRunner, RunSettings

    graph = pipeline.build(params)
    workspace = _workspace()
    reuse = None
    if resumed_from is not None:
        reuse = workspace.store.pipelines.reusable_steps(resumed_from.id)
    settings = RunSettings(
        pipeline=pipeline.name,
        target=pipeline.target if resumed_from is None else resumed_from.target,
        executor=_executor(executor, ray_address),
        cache=cache,
        experiment=experiment,
        run_name=run_name,
        resumed_from=resumed_from.id if resumed_from is not None else None,
        reuse=reuse,
        listener=_listener(progress),
    )
    record = PipelineRunner(workspace, graph, settings).run()
    if raise_on_failure and record.status != RunStatus.FINISHED:
        raise PipelineFailed(failure_message(record), record)
    return record
