"""The module-level tracking API (``steward.start_run``, ``steward.log_metric``…).

A process has a stack of active runs (``nested=True`` pushes a child) and one
metric buffer. Pending metrics are flushed and active runs ended at
interpreter exit (FINISHED, or FAILED after an uncaught exception, KILLED
after Ctrl-C) and on SIGTERM (KILLED), so nothing logged is lost. While runs
are open a heartbeat thread says so (``heartbeat.py``): a run whose process
was killed outright (``kill -9``, a lost machine) is marked KILLED later.
``start_run(run_id=...)`` attaches to an existing run, so that several
processes (distributed workers) log to one run.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from steward.errors import InvalidInput
from steward.store.records import (
    Artifact,
    Experiment,
    Metric,
    Run,
    RunPage,
    RunStart,
    RunStatus,
)
from steward.tracking.active_run import ActiveRun, UnsentStart
from steward.tracking.backend import TrackingBackend
from steward.tracking.heartbeat import Heartbeat, alive_ms
from steward.tracking.metric_buffer import MetricBuffer

DEFAULT_EXPERIMENT = "Default"
EXPERIMENT_ENV = "STEWARD_EXPERIMENT"

_lock = threading.RLock()
_stack: list[ActiveRun] = []
_buffer = MetricBuffer()
_experiment_name: str | None = None
_hooks_installed = False
_uncaught: type[BaseException] | None = None


def _open_runs() -> list[tuple[TrackingBackend, str]]:
    # A copy (no lock needed); a run not sent yet has nothing to keep alive.
    return [(run.backend, run.id) for run in list(_stack) if run.sent]


_heartbeat = Heartbeat(_open_runs)


def _backend() -> TrackingBackend:
    from steward.workspace import current_workspace

    return current_workspace().tracking


def set_experiment(name: str) -> Experiment:
    """Make ``name`` the experiment of runs started from now on (created if missing)."""
    global _experiment_name
    experiment = _backend().get_or_create_experiment(name)
    _experiment_name = experiment.name
    return experiment


def active_run() -> ActiveRun | None:
    """The innermost active run, or None."""
    with _lock:
        return _stack[-1] if _stack else None


def _require_active() -> ActiveRun:
    run = active_run()
    if run is None:
        raise InvalidInput("no active run; call steward.start_run() first.")
    return run


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    description: str | None = None,
    run_id: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> ActiveRun:
    """Start a run and make it the active one, or attach to an existing run.

    Args:
        name: the run's name (default ``run-<id prefix>``).
        experiment: experiment name; default the one set by ``set_experiment``,
            ``$STEWARD_EXPERIMENT`` or ``"Default"``. Created if missing.
        tags: initial tags (set on the run when attaching).
        params: params stored with the run's creation, in the same write as
            ``log_params`` right after would have made its own (logged when attaching).
        nested: start a child of the active run instead of refusing.
        description: stored as the ``description`` tag.
        run_id: attach to this run instead of starting one (MLflow's argument). A
            RUNNING run is joined: this process logs to it beside the others, and
            leaving the block detaches (the run goes on; ``end()`` ends it). An
            ended run is reopened and ends again when the block ends.

    Returns:
        The run handle; use it as a context manager or call ``end_run()``.

    Raises:
        InvalidInput: a run is already active and ``nested`` is False, or
            ``name`` / ``experiment`` contradict the run attached to.
        NotFound: no run has id ``run_id``.
    """
    from steward.store.validation import check_name, check_param_value, check_tag_value
    from steward.tracking.system_info import collect_system_info

    with _lock:
        parent = _stack[-1] if _stack else None
        if parent is not None and not nested:
            raise InvalidInput(
                f"run {parent.id} is already active; end it first or pass nested=True "
                "to start a child run."
            )
        backend = _backend()
        tag_values = {key: check_tag_value(key, value) for key, value in (tags or {}).items()}
        param_values = {
            check_name("param", key): check_param_value(key, value)
            for key, value in (params or {}).items()
        }
        if description is not None:
            tag_values["description"] = description
        if run_id is not None:
            run = _attach(backend, run_id, name, experiment, tag_values, param_values)
        else:
            experiment_name = (
                experiment
                or _experiment_name
                or os.environ.get(EXPERIMENT_ENV)
                or DEFAULT_EXPERIMENT
            )
            system_info = collect_system_info()
            if not backend.defers_run_start:  # its fsync overlaps the experiment's look-up
                backend.prepare_system_info(system_info)
            experiment_record = backend.get_or_create_experiment(experiment_name)
            if backend.defers_run_start:
                run = _unsent_run(
                    backend, experiment_record, name, tag_values, param_values, parent
                )
            else:
                record = backend.create_run(
                    experiment_record.id,
                    name=name,
                    tags=tag_values,
                    parent_id=parent.id if parent else None,
                    system_info=system_info,
                    alive_ms=alive_ms(),
                    params=param_values,
                )
                run = ActiveRun(backend, record, _buffer, on_end=_forget)
        _stack.append(run)
        _install_hooks()
    _heartbeat.ensure_started()
    return run


def _unsent_run(
    backend: TrackingBackend,
    experiment: Experiment,
    name: str | None,
    tags: dict[str, str],
    params: dict[str, str],
    parent: ActiveRun | None,
) -> ActiveRun:
    """A run started through a server, created with its first write (see ``ActiveRun``);
    the metric writer sends it within its interval if nothing else does."""
    from steward.tracking.system_info import collect_system_info

    parent_id = parent.id if parent else None
    start = RunStart(uuid.uuid4().hex, experiment.id, name, tags, parent_id, None, None, alive_ms())
    record = start.record(experiment.name, "")  # the server names the caller; ``info`` reads it
    unsent = UnsentStart(
        dict(start.tags), collect_system_info(), start.start_time, start.alive_ms, dict(params)
    )
    return ActiveRun(backend, record, _buffer, on_end=_forget, unsent=unsent)


def _attach(
    backend: TrackingBackend,
    run_id: str,
    name: str | None,
    experiment: str | None,
    tags: dict[str, str],
    params: dict[str, str],
) -> ActiveRun:
    """A handle on an existing run, made RUNNING for this process (see ``start_run``)."""
    record = backend.get_run(run_id)
    if experiment is not None and experiment not in (record.experiment, record.experiment_id):
        raise InvalidInput(
            f"run {run_id} belongs to experiment {record.experiment!r}, not {experiment!r}; "
            "attach without experiment= or with its own."
        )
    if name is not None and name != record.name:
        raise InvalidInput(
            f"run {run_id} is called {record.name!r}, not {name!r}; attach without name=."
        )
    joined = backend.attach_run(run_id, alive_ms())
    if tags or params:
        backend.log_batch(run_id, params=params or None, tags=tags or None)
    return ActiveRun(backend, backend.get_run(run_id), _buffer, on_end=_forget, joined=joined)


@contextmanager
def attach_run(
    record: Run,
    backend: TrackingBackend | None = None,
    store_first: Callable[[], None] | None = None,
) -> Iterator[ActiveRun]:
    """Make a run started elsewhere (a pipeline step's) the active one inside the block.

    The run is neither created nor ended here: whoever started it ends it,
    with the metrics ``take_pending_metrics`` hands over. ``backend`` is where
    the run is stored (default: the current workspace's, looked up now);
    ``store_first``, when given, writes a run whose creation was deferred, before
    anything needs it stored (see ``ActiveRun``).
    """
    run = ActiveRun(backend or _backend(), record, _buffer, on_end=_forget, store_first=store_first)
    with _lock:
        _stack.append(run)
    try:
        yield run
    finally:
        _forget(run)


def take_pending_metrics(run_id: str) -> list[Metric]:
    """The metrics of ``run_id`` logged but not yet written, handed to the caller to write."""
    return _buffer.take(run_id)


def _forget(run: ActiveRun) -> None:
    with _lock:
        if run in _stack:
            _stack.remove(run)


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the innermost active run (no-op when none is active)."""
    run = active_run()
    if run is not None:
        run.end(status)


def log_param(key: str, value: Any) -> None:
    """Log a param of the active run."""
    _require_active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params of the active run."""
    _require_active().log_params(params)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | datetime | None = None
) -> None:
    """Log a metric point of the active run (buffered; see ``flush``)."""
    _require_active().log_metric(key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | datetime | None = None
) -> None:
    """Log several metric points of the active run."""
    _require_active().log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run."""
    _require_active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active run."""
    _require_active().set_tags(tags)


def log_artifact(path: str | os.PathLike[str], name: str | None = None) -> Artifact:
    """Store a local file as an artifact of the active run."""
    return _require_active().log_artifact(path, name)


def log_artifacts(
    directory: str | os.PathLike[str], prefix: str | None = None, follow_links: bool = False
) -> list[Artifact]:
    """Store a folder's files as artifacts of the active run.

    A link pointing outside ``directory`` is refused unless ``follow_links``
    (see ``ActiveRun.log_artifacts``).
    """
    return _require_active().log_artifacts(directory, prefix, follow_links)


def flush() -> None:
    """Block until every metric logged so far in this process is durable."""
    _buffer.flush()


def get_run(run_id: str) -> Run:
    """Fetch a run by id (pending metrics of this process are flushed first)."""
    _buffer.flush()
    return _backend().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every point of metric ``key`` of a run, by step."""
    _buffer.flush()
    return _backend().metric_history(run_id, key)


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> RunPage:
    """Search runs.

    Args:
        experiment: an experiment name (or several); None searches all.
        filter: e.g. ``"metrics.acc > 0.9 and params.model = 'rf'"``; ``and``,
            ``or``, parentheses, ``like``, ``in`` and ``is null`` are supported.
        order_by: e.g. ``["metrics.acc DESC", "start_time"]``.
        max_results: page size.
        page_token: ``next_page_token`` of the previous page.

    Returns:
        A page of runs (iterable, ``.to_pandas()``, ``.next_page_token``).
    """
    _buffer.flush()
    experiments = [experiment] if isinstance(experiment, str) else experiment
    return _backend().search_runs(experiments, filter, order_by, max_results, page_token)


def list_artifacts(run_id: str) -> list[Artifact]:
    """The artifacts of a run."""
    return _backend().list_artifacts(run_id)


def download_artifact(run_id: str, path: str, destination: str | os.PathLike[str]) -> Path:
    """Write one artifact of a run to ``destination``, verified against its digest."""
    return _backend().download_artifact(run_id, path, destination)


# -- ending runs when the process ends ------------------------------------------


def _end_all(status: RunStatus) -> None:
    with _lock:
        runs = list(reversed(_stack))
    for run in runs:
        try:
            run.leave(status)
        except Exception as exc:  # keep ending the others; report, never hide
            print(f"steward: could not end run {run.id}: {exc}", file=sys.stderr)
    try:
        _buffer.flush()
    except Exception as exc:
        print(f"steward: could not flush metrics: {exc}", file=sys.stderr)


def _at_exit() -> None:
    if _uncaught is None:
        _end_all(RunStatus.FINISHED)
    elif issubclass(_uncaught, KeyboardInterrupt):
        _end_all(RunStatus.KILLED)
    else:
        _end_all(RunStatus.FAILED)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _end_all(RunStatus.KILLED)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, traceback: TracebackType | None
    ) -> None:
        global _uncaught
        _uncaught = exc_type
        previous_hook(exc_type, exc, traceback)

    sys.excepthook = excepthook
    if threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
    ):
        signal.signal(signal.SIGTERM, _on_sigterm)
