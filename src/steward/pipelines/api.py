"""The pipeline SDK: run, resume, look up runs and read outputs back."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from steward.errors import Conflict, InvalidInput, NotFound
from steward.pipelines.execution import execute
from steward.processes import process_alive
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


def run(
    pipeline: Pipeline | str,
    params: Mapping[str, Any] | None = None,
    *,
    executor: str | Executor = "inline",
    cache: bool = True,
    ray_address: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    progress: bool | ProgressListener | None = None,
    raise_on_failure: bool = True,
) -> PipelineRunRecord:
    """Run a pipeline.

    Args:
        pipeline: a ``@steward.pipeline`` function, or ``"module:function"`` /
            ``"path/file.py:function"``.
        params: the pipeline's parameters (text values are converted to the
            parameter's annotated int, float or bool).
        executor: ``inline`` (this process, default), ``process`` (local worker
            processes, independent steps in parallel) or ``ray``.
        cache: reuse outputs of steps whose code, parameters and inputs are unchanged.
        ray_address: the Ray cluster (default ``$RAY_ADDRESS``, else a local one started
            on demand).
        experiment: the experiment of the pipeline's run.
        run_name: the run's name (default: the pipeline's).
        progress: show progress on stderr (default: when stderr is a terminal), or a
            ``ProgressListener``.
        raise_on_failure: raise ``PipelineFailed`` when a step fails (the run is
            recorded either way).

    Returns:
        The stored pipeline run with its steps.

    Raises:
        PipelineFailed: a step failed (``.run`` holds the run).
        InvalidInput: bad parameters, a cycle, a step returning what cannot be stored.
        NotFound: the target does not exist.
    """
    from steward.pipelines.definition import load_target

    target = load_target(pipeline) if isinstance(pipeline, str) else pipeline
    return execute(
        target,
        params,
        executor=executor,
        cache=cache,
        ray_address=ray_address,
        experiment=experiment,
        run_name=run_name,
        progress=progress,
        raise_on_failure=raise_on_failure,
    )


def resume(
    run_id: str,
    *,
    executor: str | Executor | None = None,
    ray_address: str | None = None,
    progress: bool | ProgressListener | None = None,
    raise_on_failure: bool = True,
) -> PipelineRunRecord:
    """Run a failed (or killed) pipeline run again from where it failed.

    A new run is recorded (``resumed_from`` names the old one); every step whose
    code, parameters and inputs are unchanged reuses its earlier outputs, so only
    the failed steps and those after them run.

    Args:
        run_id: the pipeline run (or a unique prefix of its id).
        executor: where to run (default: the run's own executor).
        ray_address: the Ray cluster, for the ray executor.
        progress: as for ``run``.
        raise_on_failure: as for ``run``.

    Raises:
        NotFound: no such run, or its pipeline cannot be imported any more.
        Conflict: the run finished, or is still running.
    """
    from steward.pipelines.definition import load_target

    record = get_run(run_id)
    if record.status == RunStatus.FINISHED:
        raise Conflict(
            f"pipeline run {record.id} finished; there is nothing to resume. Run the pipeline "
            "again instead (unchanged steps come from the cache)."
        )
    if record.status == RunStatus.RUNNING:
        if record.host != socket.gethostname() or process_alive(record.pid):
            raise Conflict(
                f"pipeline run {record.id} is still running (process {record.pid} on "
                f"{record.host}); wait for it, or stop it first."
            )
        _workspace().tracking.end_run(record.id, RunStatus.KILLED)
    pipeline = load_target(record.target)
    return execute(
        pipeline,
        record.params,
        executor=executor or record.executor,
        cache=record.cache,
        ray_address=ray_address,
        experiment=record.experiment,
        run_name=None,
        progress=progress,
        raise_on_failure=raise_on_failure,
        resumed_from=record,
    )


def get_run(run_id: str) -> PipelineRunRecord:
    """A pipeline run with its steps, by id or a unique prefix of 6+ characters.

    Raises:
        NotFound: no such pipeline run.
        InvalidInput: the prefix matches several runs.
    """
    store = _workspace().store.pipelines
    try:
        return store.get_run(run_id)
    except NotFound:
        if len(run_id) < 6 or not all(c in "0123456789abcdef" for c in run_id):
            raise
    matches = store.find_run_ids(run_id)
    if not matches:
        raise NotFound(
            f"no pipeline run with id or prefix {run_id!r}; see 'steward pipeline list'."
        )
    if len(matches) > 1:
        raise InvalidInput(f"pipeline run prefix {run_id!r} is ambiguous; give more characters.")
    return store.get_run(matches[0])


def list_runs(
    pipeline: str | None = None, status: str | None = None, limit: int = 50
) -> list[PipelineRunRecord]:
    """Pipeline runs, newest first (of one pipeline, in one status)."""
    if status is not None:
        try:
            status = RunStatus(status.upper()).value
        except ValueError:
            raise InvalidInput(
                f"status must be one of {', '.join(s.value for s in RunStatus)}, not {status!r}."
            ) from None
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10,000.")
    return _workspace().store.pipelines.list_runs(pipeline, status, limit)


def load(
    run: PipelineRunRecord | str,
    step: str | None = None,
    output: str = "output",
    *,
    trust: bool = False,
) -> Any:
    """Read an output back: the pipeline's result, or one step's output.

    Args:
        run: a pipeline run or its id.
        step: the step (None: what the pipeline function returned, rebuilt with values).
        output: the step's output name.
        trust: allow models stored with pickle.

    Raises:
        NotFound: no such step or output, or the step has not produced it.
    """
    from steward.pipelines.codec import load_output
    from steward.pipelines.graph import OUTPUT_KEY

    record = get_run(run) if isinstance(run, str) else run
    workspace = _workspace()
    if step is not None:
        found = record.step(step)
        if found.status not in (StepStatus.COMPLETED, StepStatus.CACHED):
            raise NotFound(f"step {step!r} of run {record.id} has no outputs ({found.status}).")
        return load_output(workspace, found.output(output), trust=trust)

    def rebuild(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {OUTPUT_KEY}:
            ref = value[OUTPUT_KEY]
            return load(record, ref["step"], ref["output"], trust=trust)
        if isinstance(value, list):
            return [rebuild(item) for item in value]
        if isinstance(value, dict):
            return {key: rebuild(item) for key, item in value.items()}
        return value

    return rebuild(record.result)
