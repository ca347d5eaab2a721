"""Carrying out a firing: start its pipeline, record the outcome; finish interrupted ones.

A firing is ``planned`` before anything runs, ``started`` (with the time) just
before its pipeline is called, and gets its pipeline run's id as soon as the
run exists; the run is named after the firing, so an agent killed in between
still finds it. A restarted agent finishes what it finds: a firing never
started is started; one whose run finished is recorded; one whose run died
with the agent is resumed (``steward pipeline resume``: finished steps are
reused, so the work is done once).
"""

from __future__ import annotations

import inspect
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from steward.errors import Conflict, StewardError
from steward.store.agent_records import UNFINISHED, FiringRecord, FiringState
from steward.store.records import RunStatus

if TYPE_CHECKING:
    from steward.pipelines.definition import Pipeline
    from steward.pipelines.runner import ProgressListener
    from steward.store.agent_records import TriggerRecord
    from steward.store.pipeline_records import PipelineRunRecord, StepStatus
    from steward.workspace import Workspace

logger = logging.getLogger("steward.agent")


def run_name(firing: FiringRecord) -> str:
    """The name of a firing's pipeline run (how a restarted agent finds it)."""
    return f"firing {firing.id}"


class _RunRecorder:
    """Writes the pipeline run's id onto the firing the moment the run exists."""

    def __init__(self, ws: Workspace, firing: FiringRecord) -> None:
        self.ws = ws
        self.firing = firing

    def started(self, run_id: str, pipeline: str, steps: list[str]) -> None:
        self.ws.store.agent.update_firing(
            self.firing.id, FiringState.STARTED, actor=self.ws.actor, pipeline_run_id=run_id
        )

    def step_started(self, name: str) -> None:
        """Not recorded: the pipeline run has its steps."""

    def step_finished(
        self, name: str, status: StepStatus, seconds: float | None, detail: str | None
    ) -> None:
        """Not recorded: the pipeline run has its steps."""

    def finished(self, status: RunStatus) -> None:
        """Recorded by the caller, with the spend."""


def _cpu_seconds(record: PipelineRunRecord) -> float:
    return float(sum(step.cpu_seconds or 0.0 for step in record.steps))


def _finish(ws: Workspace, firing: FiringRecord, record: PipelineRunRecord) -> FiringRecord:
    from steward.agent.budget import notify

    ok = record.status == RunStatus.FINISHED
    reason = None
    if not ok:
        from steward.pipelines.execution import failure_message

        reason = failure_message(record)
    done = ws.store.agent.update_firing(
        firing.id,
        FiringState.SUCCEEDED if ok else FiringState.FAILED,
        actor=ws.actor,
        reason=reason,
        pipeline_run_id=record.id,
        cpu_seconds=_cpu_seconds(record),
    )
    logger.info(
        "firing %s of trigger %s %s: pipeline run %s, %.2f s, %.2f CPU s",
        done.id[:12],
        done.trigger,
        done.state.value,
        record.id[:12],
        done.wall_seconds or 0.0,
        done.cpu_seconds or 0.0,
    )
    if not ok:
        notify(done, "failed", ws)
    return done


def _fail(ws: Workspace, firing: FiringRecord, reason: str) -> FiringRecord:
    from steward.agent.budget import notify

    done = ws.store.agent.update_firing(
        firing.id, FiringState.FAILED, actor=ws.actor, reason=reason
    )
    logger.info("firing %s of trigger %s failed: %s", done.id[:12], done.trigger, reason)
    notify(done, "failed", ws)
    return done


def _params(pipeline: Pipeline, trigger: TriggerRecord, firing: FiringRecord) -> dict[str, Any]:
    """The trigger's parameters, plus ``cause`` when the pipeline declares it: what fired it
    (so a retrain reads the new version, not a cached one)."""
    params = dict(trigger.params)
    if "cause" in inspect.signature(pipeline.fn).parameters and "cause" not in params:
        params["cause"] = {"trigger": trigger.name, "key": firing.key, **firing.cause}
    return params


def execute(ws: Workspace, firing: FiringRecord, trigger: TriggerRecord) -> FiringRecord:
    """Start a planned firing's pipeline and record how it ended (a failure is recorded and
    notified, never raised)."""
    import steward.pipelines

    started = ws.store.agent.update_firing(firing.id, FiringState.STARTED, actor=ws.actor)
    logger.info(
        "firing %s of trigger %s started: %s (%s)",
        firing.id[:12],
        firing.trigger,
        trigger.pipeline,
        firing.key,
    )
    listener: ProgressListener = _RunRecorder(ws, started)
    try:
        target = steward.pipelines.load_target(trigger.pipeline)
        record = steward.pipelines.run(
            target,
            _params(target, trigger, firing),
            run_name=run_name(firing),
            progress=listener,
            raise_on_failure=False,
        )
    except StewardError as exc:
        return _fail(ws, started, str(exc))
    except Exception as exc:  # the user's pipeline code: record it, keep the agent alive
        return _fail(ws, started, f"{type(exc).__name__}: {exc}")
    return _finish(ws, started, record)


def _find_run(ws: Workspace, firing: FiringRecord, pipeline: str) -> PipelineRunRecord | None:
    """The pipeline run of a started firing: by the recorded id, else by its name."""
    import steward.pipelines

    if firing.pipeline_run_id is not None:
        return steward.pipelines.get_run(firing.pipeline_run_id)
    assert firing.started_at is not None
    earliest = firing.started_at - timedelta(seconds=1)
    for record in steward.pipelines.list_runs(limit=200):
        if record.start_time < earliest:
            break
        if record.target == pipeline and ws.store.tracking.get_run(record.id).name == run_name(
            firing
        ):
            return record
    return None


def _resume(ws: Workspace, firing: FiringRecord, record: PipelineRunRecord) -> FiringRecord:
    import steward.pipelines

    logger.info(
        "firing %s of trigger %s: resuming its pipeline run %s (%s)",
        firing.id[:12],
        firing.trigger,
        record.id[:12],
        record.status.value,
    )
    try:
        resumed = steward.pipelines.resume(record.id, progress=False, raise_on_failure=False)
    except Conflict:  # still running in a live process: the caller waits
        raise
    except StewardError as exc:
        return _fail(ws, firing, str(exc))
    except Exception as exc:  # the user's pipeline code
        return _fail(ws, firing, f"{type(exc).__name__}: {exc}")
    return _finish(ws, firing, resumed)


def finish_interrupted(ws: Workspace, triggers: dict[str, TriggerRecord]) -> list[FiringRecord]:
    """Finish the firings an earlier agent left planned or started (oldest first).

    A firing whose run is still running in a live process elsewhere is left
    for a later tick.
    """
    done = []
    for firing in ws.store.agent.firings(states=UNFINISHED, limit=None, newest_first=False):
        trigger = triggers.get(firing.trigger)
        if trigger is None:
            done.append(_fail(ws, firing, "its trigger was deleted before it ran"))
            continue
        if firing.state == FiringState.PLANNED:
            done.append(execute(ws, firing, trigger))
            continue
        record = _find_run(ws, firing, trigger.pipeline)
        if record is None:
            logger.info(
                "firing %s of trigger %s: its pipeline never started; starting it",
                firing.id[:12],
                firing.trigger,
            )
            done.append(execute(ws, firing, trigger))
        elif record.status in (RunStatus.FINISHED, RunStatus.FAILED):
            done.append(_finish(ws, firing, record))
        else:
            try:
                done.append(_resume(ws, firing, record))
            except Conflict as exc:
                logger.info("firing %s: %s", firing.id[:12], exc)
    return done
