"""Running a pipeline's graph: cache decisions, dispatch to an executor, failures, records.

A step is ready when every step it depends on is completed or cached. Its
cache key (code digest, parameters, input digests) is looked up first: a hit
reuses the stored outputs without running anything. Otherwise the step's
nested run is created and the step handed to the executor. A failed step
fails the run and skips its dependants; independent branches still finish.

Writes are few: outputs the driver stores (inline steps, captured output)
go into one blob batch, and finished steps are recorded together after the
batch is made durable (at the end, and at most every ``FLUSH_INTERVAL_S``
while inline steps run; after each round of results otherwise), so a cache
entry never names a blob that is not durably stored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from steward.errors import InvalidInput
from steward.pipelines import codec
from steward.pipelines.deferred_starts import DeferredStarts
from steward.pipelines.executor import Executor, WorkerLost
from steward.pipelines.fingerprint import cache_key
from steward.pipelines.graph import (
    CONSTANT_STEP,
    OutputRef,
    PipelineGraph,
    StepNode,
    refs_in,
    resolve,
)
from steward.pipelines.worker import StepResult, StepTask, WorkspaceSpec
from steward.store.pipeline_records import (
    DONE_STATUSES,
    CacheEntry,
    NewStep,
    PipelineRunRecord,
    ReusableStep,
    StepOutcome,
    StepOutput,
    StepStart,
    StepStatus,
)
from steward.store.records import Metric, Run, RunStatus, ms_to_datetime, now_ms
from steward.store.validation import PARAM_VALUE_LENGTH

if TYPE_CHECKING:
    from steward.blobs import BlobRef, BlobWriter
    from steward.workspace import Workspace

FLUSH_INTERVAL_S = 1.0


class ProgressListener(Protocol):
    """Told what a run does, as it does it (the CLI draws progress from it)."""

    def started(self, run_id: str, pipeline: str, steps: list[str]) -> None:
        """The run started with these steps."""

    def step_started(self, name: str) -> None:
        """A step was handed to the executor."""

    def step_finished(
        self, name: str, status: StepStatus, seconds: float | None, detail: str | None
    ) -> None:
        """A step completed, was served from the cache, failed or was skipped."""

    def finished(self, status: RunStatus) -> None:
        """The run ended."""


@dataclass(frozen=True)
class RunSettings:
    """How to run a graph."""

    pipeline: str
    target: str
    executor: Executor
    cache: bool = True
    experiment: str | None = None
    run_name: str | None = None
    resumed_from: str | None = None
    reuse: dict[str, ReusableStep] | None = None
    listener: ProgressListener | None = None


class _Writer:
    """The blob writer steps of this run use: the current batch, renewed at each flush."""

    def __init__(
        self, start: Callable[[], AbstractContextManager[BlobWriter]], algorithm: str
    ) -> None:
        self._start = start
        self._context: AbstractContextManager[BlobWriter] | None = None
        self._batch: BlobWriter | None = None
        self.algorithm = algorithm

    def _current(self) -> BlobWriter:
        if self._batch is None:
            self._context = self._start()
            self._batch = self._context.__enter__()
        return self._batch

    def put_bytes(self, data: bytes | memoryview) -> BlobRef:
        return self._current().put_bytes(data)

    def put_file(self, path: Any) -> BlobRef:
        return self._current().put_file(path)

    def put_copy(self, source: Any, digest: str) -> BlobRef:
        return self._current().put_copy(source, digest)

    def commit(self) -> None:
        """Make everything written so far durable and visible."""
        if self._context is not None:
            context, self._context, self._batch = self._context, None, None
            context.__exit__(None, None, None)


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= PARAM_VALUE_LENGTH else text[: PARAM_VALUE_LENGTH - 1] + "…"


class PipelineRunner:
    """Runs one graph once; ``run()`` returns the stored record."""

    def __init__(self, workspace: Workspace, graph: PipelineGraph, settings: RunSettings) -> None:
        self.workspace = workspace
        self.graph = graph
        self.settings = settings
        self.executor = settings.executor
        self.store = workspace.store.pipelines
        self.status: dict[str, StepStatus] = {node.name: StepStatus.PENDING for node in graph.nodes}
        self.outputs: dict[OutputRef, StepOutput] = {}
        self.values: dict[str, Any] = {}
        self.attempts: dict[str, int] = {}
        self.tasks: dict[str, StepTask] = {}
        self.keys: dict[str, tuple[str, str]] = {}
        self.computed: dict[str, tuple[int, tuple[StepOutput, ...]]] = {}
        """Cache keys computed in this run (not yet in the store's cache)."""
        self.candidates: dict[str, CacheEntry] = {}
        """Cache entries the pipeline's latest run used: a rerun's likely hits, prefetched."""
        self.pending: list[StepOutcome] = []
        self.in_flight: dict[Future[StepResult], str] = {}
        # Each output starts its fsync as soon as it is written, while later steps run.
        self.writer = _Writer(
            lambda: workspace.blobs.batch(sync_early=True), workspace.blobs.algorithm
        )
        self.spec = WorkspaceSpec.of(workspace)
        self.last_flush = time.monotonic()
        self.failed = False
        self.step_pks: dict[str, int] = {}
        self.run_id = ""
        self.experiment_id = ""
        self.deferred = DeferredStarts(self._store_starts)
        """Inline steps' starts, written with their ends unless needed sooner."""

    # -- the run -------------------------------------------------------------------

    def run(self) -> PipelineRunRecord:
        """Run every step that can run; record it all; return the pipeline run."""
        from steward.tracking import fluent

        self.executor.open()  # an unreachable cluster fails here, before any record is made
        try:
            return self._run(fluent)
        finally:
            self.deferred.close()
            self.executor.close()

    def _run(self, fluent: Any) -> PipelineRunRecord:
        import os
        import socket

        settings = self.settings
        parent = fluent.start_run(
            name=settings.run_name or self.graph.name,
            experiment=settings.experiment,
            tags={
                "steward.pipeline": self.graph.name,
                "steward.pipeline.target": settings.target,
                "steward.executor": self.executor.name,
            },
            nested=fluent.active_run() is not None,
            params={k: _param_text(v) for k, v in self.graph.params.items()},
        )
        self.run_id, self.experiment_id = parent.id, parent.experiment_id
        status = RunStatus.FAILED
        try:
            if settings.cache:  # before this run's record becomes the pipeline's latest
                self.candidates = self.store.cache_candidates(self.graph.name)
            self.step_pks = self.store.create_run(
                parent.id,
                pipeline=self.graph.name,
                target=settings.target,
                params=self.graph.params,
                result=self.graph.result,
                executor=self.executor.name,
                cache=settings.cache,
                resumed_from=settings.resumed_from,
                host=socket.gethostname(),
                pid=os.getpid(),
                actor=self.workspace.actor,
                steps=[
                    NewStep(
                        node.name,
                        node.position,
                        node.step.function,
                        node.depends_on,
                        node.inputs,
                        node.params,
                    )
                    for node in self.graph.nodes
                ],
            )
            if settings.listener is not None:
                settings.listener.started(parent.id, self.graph.name, list(self.status))
            self._store_constants()
            self._loop()
            status = RunStatus.FAILED if self.failed else RunStatus.FINISHED
        except KeyboardInterrupt:
            status = RunStatus.KILLED
            self._abandon("interrupted (Ctrl-C)")
            raise
        except BaseException as exc:
            self._abandon(f"the pipeline run stopped: {exc}")
            raise
        finally:
            try:
                self._flush(force=True)
            finally:
                parent.end(status)
                if settings.listener is not None:
                    settings.listener.finished(status)
        return self.store.get_run(parent.id)

    def _store_constants(self) -> None:
        for node in self.graph.nodes:
            for name, value in node.constants.items():
                encoded = codec.encode(value, node.name, name)
                if encoded.data is None:
                    raise InvalidInput(
                        f"argument {name!r} of step {node.name!r} is a model; models reach steps "
                        "as outputs of other steps, or load them inside the step."
                    )
                ref = self.workspace.blobs.put_bytes(encoded.data)
                output = StepOutput(name, encoded.kind, ref.digest, ref.size, encoded.type)
                self.outputs[OutputRef(CONSTANT_STEP, name)] = output
                self.values[ref.digest] = value

    def _ready(self) -> list[StepNode]:
        done = DONE_STATUSES
        return [
            node
            for node in self.graph.nodes
            if self.status[node.name] == StepStatus.PENDING
            and all(self.status[upstream] in done for upstream in node.depends_on)
        ]

    def _loop(self) -> None:
        while True:
            ready = self._ready()
            if ready:
                misses = self._serve_from_cache(ready)
                if misses:
                    # Inline steps start one at a time, so each starts when it really does.
                    self._start(misses[:1] if self.executor.in_memory else misses)
                self._collect(block=False)
                continue
            if not self.in_flight:
                return
            self._collect(block=True)

    # -- cache ------------------------------------------------------------------------

    def _input_digests(self, node: StepNode) -> dict[str, Any]:
        return {
            argument: resolve(node.arguments[argument], lambda ref: self.outputs[ref].digest)
            for argument in node.inputs
        }

    def _present(self, outputs: tuple[StepOutput, ...]) -> bool:
        stored = [output.digest for output in outputs if output.inline is None]
        return not stored or not self.workspace.blobs.missing(stored)

    def _serve_from_cache(self, ready: list[StepNode]) -> list[StepNode]:
        """Record the ready steps whose outputs can be reused; return the others.

        A step found missing stays ready until it starts (inline steps start one at
        a time); it is not looked up again, only checked against what this run has
        computed since.
        """
        fresh = [node for node in ready if node.name not in self.keys]
        misses = []
        for node in ready:
            if node.name in self.keys:
                code, key = self.keys[node.name]
                if key in self.computed and self._uses_cache(node):
                    self._cached(node, code, key, *self.computed[key])
                else:
                    misses.append(node)
        return misses + self._look_up(fresh) if fresh else misses

    def _look_up(self, ready: list[StepNode]) -> list[StepNode]:
        """Record the steps whose outputs can be reused (first time ready); return the others."""
        for node in ready:
            self.keys[node.name] = (
                node.step.code_digest,
                cache_key(
                    node.step.code_digest,
                    node.params,
                    self._input_digests(node),
                    node.step.options.outputs,
                ),
            )
        reuse = self.settings.reuse or {}
        use_cache = [
            self.keys[node.name][1]
            for node in ready
            if self._uses_cache(node) and node.name not in reuse
        ]
        entries = {key: self.candidates[key] for key in use_cache if key in self.candidates}
        unknown = [key for key in use_cache if key not in entries]
        if unknown:
            entries.update(self.store.lookup_cache(unknown))
        stale: list[str] = []
        misses = []
        origins = [reuse[node.name].step_pk for node in ready if node.name in reuse]
        outdated = self.store.stale_reads(origins)
        for node in ready:
            code, key = self.keys[node.name]
            earlier = reuse.get(node.name)
            hit: tuple[int, tuple[StepOutput, ...]] | None = None
            if (
                earlier is not None
                and earlier.status in DONE_STATUSES
                and earlier.cache_key == key
                and earlier.step_pk not in outdated
                and self._present(earlier.outputs)
            ):
                hit = (earlier.step_pk, earlier.outputs)
            elif key in self.computed and self._uses_cache(node):
                hit = self.computed[key]
            elif key in entries and not entries[key].stale:
                entry = entries[key]
                if self._present(entry.outputs):
                    hit = (entry.step_pk, entry.outputs)
                else:
                    stale.append(key)
                    self.candidates.pop(key, None)
            if hit is None:
                misses.append(node)
                continue
            self._cached(node, code, key, *hit)
        self.store.forget_cache(stale)
        return misses

    def _uses_cache(self, node: StepNode) -> bool:
        return self.settings.cache and node.step.options.cache

    def _cached(
        self, node: StepNode, code: str, key: str, origin: int, outputs: tuple[StepOutput, ...]
    ) -> None:
        at = now_ms()
        self.pending.append(
            StepOutcome(
                step_pk=self.step_pks[node.name],
                name=node.name,
                status=StepStatus.CACHED,
                run_id=uuid.uuid4().hex,
                create_run=True,
                started_at=at,
                ended_at=at,
                params={k: _param_text(v) for k, v in node.params.items()},
                tags=self._tags(node, "hit"),
                cache_key=key,
                code_digest=code,
                function=node.step.function,
                cached_from_pk=origin,
                outputs=outputs,
            )
        )
        self._done(node, StepStatus.CACHED, outputs)
        self._tell(node.name, StepStatus.CACHED, None, None)

    def _tags(self, node: StepNode, cache: str) -> dict[str, str]:
        return {
            "steward.pipeline.run": self.run_id,
            "steward.step": node.name,
            "steward.step.function": node.step.function,
            "steward.cache": cache,
        }

    def _done(self, node: StepNode, status: StepStatus, outputs: tuple[StepOutput, ...]) -> None:
        self.status[node.name] = status
        for output in outputs:
            self.outputs[OutputRef(node.name, output.name)] = output

    # -- running ------------------------------------------------------------------------

    def _cache_state(self, node: StepNode) -> str:
        return "miss" if self._uses_cache(node) else "off"

    def _start(self, nodes: list[StepNode]) -> None:
        starts = []
        for node in nodes:
            run_id = uuid.uuid4().hex
            at = now_ms()
            tags = self._tags(node, self._cache_state(node))
            starts.append(StepStart(self.step_pks[node.name], node.name, run_id, at))
            record = Run(
                id=run_id,
                name=node.name,
                experiment=self.settings.experiment or "",
                experiment_id=self.experiment_id,
                status=RunStatus.RUNNING,
                start_time=ms_to_datetime(at),  # type: ignore[arg-type]
                end_time=None,
                created_by=self.workspace.actor,
                parent_id=self.run_id,
                tags=tags,
            )
            sources = {
                ref: self.outputs[ref]
                for argument in node.inputs
                for ref in refs_in(node.arguments[argument])
            }
            self.tasks[node.name] = StepTask(
                node.name,
                node.step,
                record,
                node.arguments,
                sources,
                self.spec,
            )
            self.status[node.name] = StepStatus.RUNNING
        if self.executor.in_memory:
            for start in starts:
                self.deferred.hold(start.name, start)
        else:
            self._store_starts(starts)
        for node in nodes:
            self._submit(node.name)

    def _submit(self, name: str) -> None:
        if self.settings.listener is not None:
            self.settings.listener.step_started(name)
        self.attempts[name] = self.attempts.get(name, 0) + 1
        if self.executor.in_memory:
            bind = getattr(self.executor, "bind", None)
            if bind is not None:
                bind(self._load_input, self.writer, self.workspace.tracking, self.deferred.store)
        future = self.executor.submit(self.tasks[name])
        self.in_flight[future] = name

    def _store_starts(self, starts: list[StepStart]) -> None:
        self.store.start_steps(self.run_id, self.workspace.actor, starts)

    def _load_input(self, output: StepOutput) -> Any:
        value = self.values.get(output.digest)
        if value is not None:
            return codec.independent_copy(value)
        return codec.load_output(self.workspace, output)

    def _collect(self, block: bool) -> None:
        if not self.in_flight:
            self._flush(force=False)
            return
        if block:
            done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
        else:
            done = {future for future in self.in_flight if future.done()}
        for future in done:
            name = self.in_flight.pop(future)
            try:
                result = future.result()
            except WorkerLost as exc:
                result = StepResult(name, error=f"WorkerLost: {exc}", ended_at=now_ms())
            self._finished(self.graph.node(name), result)
        self._flush(force=False)

    def _finished(self, node: StepNode, result: StepResult) -> None:
        retries = node.step.options.retries
        if not result.ok and self.attempts[node.name] <= retries:
            self._tell(node.name, StepStatus.RUNNING, None, f"retrying: {result.error}")
            self._submit(node.name)
            return
        code, key = self.keys[node.name]
        artifacts = []
        for path, text in (
            ("stdout.txt", result.stdout),
            ("stderr.txt", result.stderr),
            ("traceback.txt", result.traceback),
        ):
            if text:
                ref = self.writer.put_bytes(text.encode("utf-8", "replace"))
                artifacts.append((path, ref.digest, ref.size))
        seconds = (result.ended_at - result.started_at) / 1000 if result.started_at else None
        metrics = list(result.metrics)
        if result.started_at:
            metrics += [
                Metric("duration_s", seconds or 0.0, 0, result.ended_at),
                Metric("cpu_seconds", result.cpu_seconds, 0, result.ended_at),
            ]
            if result.peak_memory_bytes is not None:
                metrics.append(
                    Metric("peak_memory_mb", result.peak_memory_bytes / 2**20, 0, result.ended_at)
                )
        status = StepStatus.COMPLETED if result.ok else StepStatus.FAILED
        self.pending.append(
            StepOutcome(
                step_pk=self.step_pks[node.name],
                name=node.name,
                status=status,
                run_id=self.tasks[node.name].run.id,
                create_run=self.deferred.take(node.name) is not None,
                started_at=result.started_at or None,
                ended_at=result.ended_at or now_ms(),
                params={k: _param_text(v) for k, v in node.params.items()},
                tags=self.tasks[node.name].run.tags,
                metrics=metrics,
                artifacts=artifacts,
                cache_key=key,
                code_digest=code,
                function=node.step.function,
                outputs=result.outputs,
                error=result.error,
                cpu_seconds=result.cpu_seconds if result.started_at else None,
                peak_memory_bytes=result.peak_memory_bytes,
                worker=result.worker or None,
                store_in_cache=result.ok,
            )
        )
        if result.ok:
            self.computed[key] = (self.step_pks[node.name], result.outputs)
            self._done(node, status, result.outputs)
            if result.values is not None:
                for output in result.outputs:
                    self.values[output.digest] = result.values[output.name]
            self._tell(node.name, status, seconds, None)
            return
        self.failed = True
        self.status[node.name] = status
        self._tell(node.name, status, seconds, result.error)
        for name in sorted(self.graph.dependants(node.name)):
            if self.status[name] == StepStatus.PENDING:
                self._skip(name, f"skipped: {node.name} failed")

    def _skip(self, name: str, reason: str) -> None:
        self.status[name] = StepStatus.SKIPPED
        self.pending.append(
            StepOutcome(
                step_pk=self.step_pks[name], name=name, status=StepStatus.SKIPPED, error=reason
            )
        )
        self._tell(name, StepStatus.SKIPPED, None, reason)

    def _abandon(self, reason: str) -> None:
        """Record steps still running as failed and the rest as skipped (the run stops)."""
        for future in self.in_flight:
            future.cancel()
        self.in_flight.clear()
        for name, status in list(self.status.items()):
            if status == StepStatus.RUNNING:
                held = self.deferred.take(name)
                self.pending.append(
                    StepOutcome(
                        step_pk=self.step_pks[name],
                        name=name,
                        status=StepStatus.FAILED,
                        run_id=self.tasks[name].run.id,
                        create_run=held is not None,
                        started_at=None if held is None else held.started_at,
                        error=reason,
                    )
                )
                self.status[name] = StepStatus.FAILED
            elif status == StepStatus.PENDING:
                self._skip(name, reason)

    def _tell(
        self, name: str, status: StepStatus, seconds: float | None, detail: str | None
    ) -> None:
        if self.settings.listener is not None:
            self.settings.listener.step_finished(name, status, seconds, detail)

    def _flush(self, force: bool) -> None:
        if not self.pending:
            return
        if (
            not force
            and self.executor.in_memory
            and time.monotonic() - self.last_flush < FLUSH_INTERVAL_S
        ):
            return
        self.writer.commit()
        outcomes, self.pending = self.pending, []
        self.store.finish(self.run_id, self.workspace.actor, outcomes)
        self.last_flush = time.monotonic()
