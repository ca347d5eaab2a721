"""Running one step, wherever an executor puts it: the driver, a local process or a Ray worker.

The step's nested run is made the active run while it runs, so
``steward.log_metric``, ``steward.data.get`` (lineage) and
``steward.models.log`` inside a step land on that run. Its stdout and
stderr are captured (and still printed), its CPU seconds and peak memory
measured, and its outputs stored through the workspace's blob store: a
worker on another machine needs nothing but the workspace's URLs.
"""

from __future__ import annotations

import io
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from steward.pipelines import codec
from steward.pipelines.graph import OutputRef, call_arguments, resolve
from steward.store.pipeline_records import StepOutput

if TYPE_CHECKING:
    from steward.blobs import BlobStore, BlobWriter
    from steward.pipelines.steps import Step
    from steward.store.records import Metric, Run
    from steward.tracking.backend import TrackingBackend
    from steward.workspace import Workspace

CAPTURE_LIMIT = 8 << 20
"""Characters of stdout (and of stderr) kept per step; the rest is cut from the middle."""


@dataclass(frozen=True)
class WorkspaceSpec:
    """How a worker process opens the pipeline's workspace."""

    home: str
    store_url: str
    blob_url: str
    blob_options: dict[str, Any] | None
    actor: str

    @classmethod
    def of(cls, workspace: Workspace) -> WorkspaceSpec:
        """The spec of an open workspace."""
        settings = workspace.settings
        return cls(
            str(settings.home),
            settings.store_url,
            settings.blob_url,
            workspace.blob_options,
            workspace.actor,
        )


@dataclass(frozen=True)
class StepTask:
    """One step to run: the function, its run, its arguments and where they are stored."""

    node: str
    step: Step
    run: Run
    arguments: dict[str, Any]
    """Argument name -> value, with ``OutputRef``s for inputs."""
    sources: dict[OutputRef, StepOutput]
    workspace: WorkspaceSpec


@dataclass
class StepResult:
    """What running a step produced."""

    node: str
    outputs: tuple[StepOutput, ...] = ()
    error: str | None = None
    traceback: str | None = None
    stdout: str = ""
    stderr: str = ""
    started_at: int = 0
    ended_at: int = 0
    cpu_seconds: float = 0.0
    peak_memory_bytes: int | None = None
    worker: str = ""
    metrics: list[Metric] = field(default_factory=list)
    values: dict[str, Any] | None = None
    """The outputs in memory, by name (inline only: handed to downstream steps as they are)."""

    @property
    def ok(self) -> bool:
        """Whether the step succeeded."""
        return self.error is None


class _Tee(io.TextIOBase):
    """Keeps what a step writes (up to a limit) and passes it on."""

    def __init__(self, through: Any) -> None:
        self.through = through
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0
        self.tail: list[str] = []
        self.tail_size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.size < CAPTURE_LIMIT // 2:
            self.parts.append(text)
            self.size += len(text)
        else:
            self.tail.append(text)
            self.tail_size += len(text)
            while self.tail_size > CAPTURE_LIMIT // 2 and len(self.tail) > 1:
                dropped = self.tail.pop(0)
                self.tail_size -= len(dropped)
                self.dropped += len(dropped)
        if self.through is not None:
            with suppress(OSError, ValueError):  # a closed console must not fail the step
                self.through.write(text)
        return len(text)

    def flush(self) -> None:
        if self.through is not None:
            with suppress(OSError, ValueError):
                self.through.flush()

    def text(self) -> str:
        middle = f"\n[… {self.dropped:,} characters cut …]\n" if self.dropped else ""
        return "".join(self.parts) + middle + "".join(self.tail)


_capture_lock = threading.Lock()


@contextmanager
def _captured() -> Iterator[tuple[_Tee, _Tee]]:
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    with _capture_lock:
        sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        with _capture_lock:
            sys.stdout, sys.stderr = out.through, err.through


def _reset_peak_memory() -> bool:
    """Reset the process's peak resident memory (Linux); whether that worked.

    Plain ``os`` calls: a buffered text file per step cost ten times the write."""
    try:
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        os.write(fd, b"5")
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _peak_memory(reset: bool) -> int | None:
    """Peak resident memory since the reset, in bytes (the process's lifetime peak otherwise)."""
    if reset:
        try:
            fd = os.open("/proc/self/status", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                status = os.read(fd, 1 << 16)
            finally:
                os.close(fd)
            start = status.index(b"\nVmHWM:") + 7
            return int(status[start : status.index(b"kB", start)]) * 1024
        except (OSError, ValueError):
            pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)
    except (ImportError, OSError):
        return None


def worker_name() -> str:
    """Where this process runs: ``host:pid`` (and the Ray node, on Ray)."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        try:
            node = ray.get_runtime_context().get_node_id()
            name += f" ray:{node[:12]}"
        except Exception:  # not inside a task: no node to name
            pass
    return name


def _split(value: Any, step: Step, node: str) -> list[tuple[str, Any]]:
    names = step.options.outputs
    if len(names) == 1:
        return [(names[0], value)]
    from steward.errors import InvalidInput

    if not isinstance(value, tuple | list) or len(value) != len(names):
        raise InvalidInput(
            f"step {node!r} declares {len(names)} outputs ({', '.join(names)}) but returned "
            f"{codec.type_name(value)}; return a tuple of {len(names)} values."
        )
    return list(zip(names, value, strict=True))


def store_outputs(
    node: str, step: Step, value: Any, writer: BlobWriter | BlobStore
) -> tuple[tuple[StepOutput, ...], dict[str, Any]]:
    """Encode and store a step's return value; the stored outputs and the values by name.

    Raises:
        InvalidInput: a value Steward cannot store (names step and type).
    """
    outputs = []
    values = {}
    for name, item in _split(value, step, node):
        encoded = codec.encode(item, node, name)
        if encoded.kind == codec.MODEL_KIND:
            stored = codec.store_model(item, f"outputs/{name}")
            outputs.append(
                StepOutput(
                    name,
                    encoded.kind,
                    stored["digest"],
                    stored["size"],
                    encoded.type,
                    stored["meta"],
                )
            )
        else:
            digest, size, inline = codec.put(writer, encoded)
            outputs.append(
                StepOutput(name, encoded.kind, digest, size, encoded.type, inline=inline)
            )
        values[name] = item
    return tuple(outputs), values


def execute(
    task: StepTask,
    load_input: Callable[[StepOutput], Any],
    writer: BlobWriter | BlobStore,
    tracking: TrackingBackend | None = None,
    store_first: Callable[[], None] | None = None,
) -> StepResult:
    """Run a step in this process, its run active (stored by ``tracking``, default the
    current workspace's; ``store_first`` writes it first if its creation was deferred);
    never raises for the step's own errors."""
    from steward.store.records import now_ms
    from steward.tracking import fluent

    result = StepResult(task.node, worker=worker_name())
    reset = _reset_peak_memory()
    cpu_start = time.process_time()
    result.started_at = now_ms()
    with _captured() as (out, err), fluent.attach_run(task.run, tracking, store_first):
        try:
            arguments = resolve(task.arguments, lambda ref: load_input(task.sources[ref]))
            args, kwargs = call_arguments(task.step.signature, arguments)
            value = task.step.fn(*args, **kwargs)
            result.outputs, result.values = store_outputs(task.node, task.step, value, writer)
        except (Exception, SystemExit) as exc:
            result.error = f"{codec.type_name(exc)}: {exc}".strip()
            result.traceback = "".join(traceback.format_exception(exc))
    result.ended_at = now_ms()
    result.cpu_seconds = time.process_time() - cpu_start
    result.peak_memory_bytes = _peak_memory(reset)
    result.stdout, result.stderr = out.text(), err.text()
    result.metrics = fluent.take_pending_metrics(task.run.id)
    return result


_opened: dict[str, Workspace] = {}


def open_worker_workspace(spec: WorkspaceSpec) -> Workspace:
    """The workspace of ``spec``, opened once per worker process and made current."""
    import dataclasses
    import json

    from steward.workspace import open_workspace, use_workspace

    key = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    workspace = _opened.get(key)
    if workspace is None:
        workspace = open_workspace(
            home=spec.home,
            store_url=spec.store_url,
            blob_url=spec.blob_url,
            actor=spec.actor,
            blob_options=spec.blob_options,
        )
        _opened[key] = workspace
        # Open both stores now, so the first step's time is its own.
        workspace.store  # noqa: B018
        workspace.blobs  # noqa: B018
    use_workspace(workspace)
    return workspace


def run_in_worker(task: StepTask) -> StepResult:
    """Run a step in a worker process (local pool or Ray): inputs from, and outputs to,
    the workspace's blob store; the result carries no values, only references."""
    workspace = open_worker_workspace(task.workspace)
    result = execute(
        task,
        lambda output: codec.load_output(workspace, output),
        workspace.blobs,
        workspace.tracking,
    )
    result.values = None
    return result
