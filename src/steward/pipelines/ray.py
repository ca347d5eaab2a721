"""The ``ray`` executor: steps as Ray tasks, on a cluster or a local one started on demand.

``connect`` joins the cluster at the address given, else ``$RAY_ADDRESS``,
else starts a local one (``ray.init``) whose workers see the driver's
``sys.path``. An address that does not answer is reported within seconds
(``STEWARD_RAY_CONNECT_TIMEOUT``, default 20), naming it, instead of
hanging. A step's ``resources`` become the task's options; a step that asks
for more than the whole cluster has fails at once instead of waiting forever.

Workers read inputs from and write outputs to the workspace's blob store
(S3 when scaled, or a team server's, with the driver's token in the job's
environment), so a step runs on whichever node Ray picks. Ray's own
retries are off: a worker that dies fails its step (``WorkerLost``), and the
step's ``retries`` decide whether it runs again.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from steward.errors import Unavailable, require
from steward.pipelines.executor import WorkerLost
from steward.pipelines.worker import StepResult, StepTask, run_in_worker

CONNECT_TIMEOUT_ENV = "STEWARD_RAY_CONNECT_TIMEOUT"
_FEATURE = "the ray executor"
_lock = threading.Lock()


def _ray() -> Any:
    return require("ray", "ray", _FEATURE)


def _host_port(address: str) -> tuple[str, int]:
    plain = address.removeprefix("ray://")
    host, sep, port = plain.rpartition(":")
    if not sep:
        return plain, 10001 if address.startswith("ray://") else 6379
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise Unavailable(f"Ray address {address!r} is not host:port.") from None


def _timeout() -> float:
    try:
        return float(os.environ.get(CONNECT_TIMEOUT_ENV, "20"))
    except ValueError:
        return 20.0


def _unavailable(address: str, reason: str) -> Unavailable:
    return Unavailable(
        f"no Ray cluster answers at {address} ({reason}). Start one there with "
        "'ray start --head', check --ray-address / RAY_ADDRESS, or leave both unset to "
        "use a local cluster."
    )


def _job_env() -> dict[str, str]:
    """What this job's workers need from the driver's environment: the token of the
    user who started the pipeline, when the workspace is a team server (the workers
    write outputs through it, as that user)."""
    from steward.config import TOKEN_ENV

    token = os.environ.get(TOKEN_ENV)
    return {TOKEN_ENV: token} if token else {}


def connect(address: str | None = None, *, num_cpus: int | None = None) -> str:
    """Connect this process to Ray (once); return the cluster's address.

    Args:
        address: ``host:port`` of a cluster's head, or ``ray://host:port`` for Ray
            Client; default ``$RAY_ADDRESS``; neither: start a local cluster.
        num_cpus: CPUs of a local cluster started here (default: all).

    Raises:
        MissingDependency: Ray is not installed.
        Unavailable: nothing answers at the address in time.
    """
    ray = _ray()
    with _lock:
        address = address or os.environ.get("RAY_ADDRESS") or None
        if ray.is_initialized():
            current = str(ray.get_runtime_context().gcs_address)
            if address not in (None, "auto", "local", current):
                raise Unavailable(
                    f"this process is already connected to the Ray cluster at {current}, so it "
                    f"cannot join {address}; run from a new process to use another cluster."
                )
            return current
        if address in (None, "local"):
            paths = [path for path in sys.path if path and os.path.isdir(path)]
            env = {**_job_env(), "PYTHONPATH": os.pathsep.join(paths)}
            ray.init(
                # "local": always a new cluster, as documented (without an address Ray
                # would join any cluster it finds running on this machine).
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                runtime_env={"env_vars": env},
                log_to_driver=True,
                # Ray runs workers at niceness 15, so on a busy machine a step on the
                # local cluster lost to every other process and ran slower than inline;
                # a cluster started for this run does the run's work at its priority.
                _system_config={"worker_niceness": 0},
            )
            return str(ray.get_runtime_context().gcs_address)
        if address != "auto":
            host, port = _host_port(address)
            try:
                with socket.create_connection((host, port), timeout=min(5.0, _timeout())):
                    pass
            except OSError as exc:
                raise _unavailable(address, exc.strerror or str(exc)) from None
        outcome: dict[str, Any] = {}

        def join() -> None:
            try:
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=True,
                    runtime_env={"env_vars": _job_env()},
                )
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=join, name="steward-ray-connect", daemon=True)
        thread.start()
        thread.join(_timeout())
        if thread.is_alive():
            raise _unavailable(address, f"no answer within {_timeout():g} s")
        if "error" in outcome:
            raise _unavailable(address, str(outcome["error"]).splitlines()[0]) from None
        return str(ray.get_runtime_context().gcs_address)


def task_options(resources: dict[str, float]) -> dict[str, Any]:
    """Ray task options for a step's resources (one CPU unless it says otherwise)."""
    options: dict[str, Any] = {"num_cpus": resources.get("num_cpus", 1.0)}
    if "num_gpus" in resources:
        options["num_gpus"] = resources["num_gpus"]
    if "memory" in resources:
        options["memory"] = int(resources["memory"])
    custom = {k: v for k, v in resources.items() if k not in ("num_cpus", "num_gpus", "memory")}
    if custom:
        options["resources"] = custom
    return options


_RAY_NAMES = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


def infeasible(resources: dict[str, float], total: dict[str, float]) -> str | None:
    """Why a cluster with ``total`` resources can never run a step asking ``resources``."""
    wanted = {"num_cpus": 1.0, **resources}
    for key, amount in wanted.items():
        name = _RAY_NAMES.get(key, key)
        if amount > total.get(name, 0.0):
            return f"it asks for {key}={amount:g} and the whole cluster has {total.get(name, 0):g}"
    return None


def importable_on_workers(module: str) -> bool:
    """Whether Ray workers can import ``module`` by name: not the driver's script, nor a
    file the CLI loaded by path (those steps are sent with their code instead)."""
    from steward.pipelines.definition import FILE_MODULES

    return module != "__main__" and module not in FILE_MODULES


class RayExecutor:
    """Runs each step as a Ray task."""

    name = "ray"
    in_memory = False

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self._remote: Any = None
        self._total: dict[str, float] = {}
        self.cluster = ""

    def open(self) -> None:
        """Connect to the cluster (or start a local one)."""
        ray = _ray()
        self.cluster = connect(self.address, num_cpus=self.num_cpus)
        self._total = {key: float(value) for key, value in ray.cluster_resources().items()}
        self._remote = ray.remote(max_retries=0, retry_exceptions=False)(run_in_worker)

    def submit(self, task: StepTask) -> Future[StepResult]:
        """Start the step as a task; its future resolves when the task ends."""
        future: Future[StepResult] = Future()
        resources = task.step.options.resources
        reason = infeasible(resources, self._total)
        if reason is not None:
            future.set_result(
                StepResult(
                    task.node,
                    error=f"step {task.node!r} cannot run on the Ray cluster at {self.cluster}: "
                    f"{reason}",
                )
            )
            return future
        if not importable_on_workers(task.step.fn.__module__):
            task = replace(task, step=task.step.portable())
        reference = self._remote.options(**task_options(resources)).remote(task)
        reference.future().add_done_callback(lambda done: self._settle(task, done, future))
        return future

    def _settle(self, task: StepTask, done: Future[Any], future: Future[StepResult]) -> None:
        ray = _ray()
        try:
            future.set_result(done.result())
        except ray.exceptions.RayTaskError as exc:  # the task itself broke (unpickling…)
            future.set_result(StepResult(task.node, error=f"{type(exc).__name__}: {exc}"))
        except Exception as exc:  # the worker or the cluster went away
            text = " ".join(str(exc).split()) or type(exc).__name__
            first = text.split(". ")[0].rstrip(".")
            future.set_exception(
                WorkerLost(f"the Ray worker running step {task.node!r} was lost: {first}")
            )

    def close(self) -> None:
        """Leave the connection open for the next run in this process."""
