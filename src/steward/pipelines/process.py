"""The ``process`` executor: independent steps side by side in local worker processes.

A small pool of long-lived workers (one per core by default), each running
one step at a time and importing a step's module once. Workers are started
with ``forkserver`` where the platform has it (``spawn`` elsewhere), never
plain ``fork``, so threads of the driver (metric writers, database pools)
are never copied into them. Steps must be importable: defined at the top of
a module or of the script being run, like anything sent to a process pool.

A worker that dies (killed, out of memory) fails exactly the step it was
running, with its exit status; a new worker takes its place.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from steward.pipelines.executor import WorkerLost
from steward.pipelines.worker import StepResult, StepTask


def _worker_main(connection: Connection) -> None:
    """A worker's loop: receive a pickled task, run it, send the result back."""
    from steward.pipelines.worker import run_in_worker

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    while True:
        try:
            payload = connection.recv_bytes()
        except (EOFError, OSError):
            return
        if not payload:
            return
        try:
            task = pickle.loads(payload)
        except Exception as exc:
            connection.send(("lost", f"the worker could not load the step: {exc}"))
            continue
        connection.send(("done", run_in_worker(task)))


def describe_exit(code: int | None) -> str:
    """A worker's exit code in words."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (perhaps out of memory)" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exited with code {code}"


@dataclass
class _Worker:
    process: Any
    connection: Connection
    task: StepTask | None = None
    future: Future[StepResult] | None = field(default=None, repr=False)


class ProcessExecutor:
    """Runs steps in a pool of local worker processes."""

    name = "process"
    in_memory = False

    def __init__(self, workers: int | None = None) -> None:
        self.size = max(1, workers or os.cpu_count() or 1)
        self._queue: deque[tuple[StepTask, Future[StepResult]]] = deque()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._wake_read: Any = None
        self._wake_write: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        methods = multiprocessing.get_all_start_methods()
        self._context: Any = multiprocessing.get_context(
            "forkserver" if "forkserver" in methods else "spawn"
        )

    def open(self) -> None:
        """Start the thread that hands tasks to workers (workers start on demand)."""
        self._stopping = False
        self._wake_read, self._wake_write = multiprocessing.Pipe(duplex=False)
        self._thread = threading.Thread(target=self._dispatch, name="steward-process-pool")
        self._thread.daemon = True
        self._thread.start()

    def submit(self, task: StepTask) -> Future[StepResult]:
        """Queue a task for the next free worker."""
        future: Future[StepResult] = Future()
        with self._lock:
            self._queue.append((task, future))
        self._wake_write.send_bytes(b"1")
        return future

    def close(self) -> None:
        """Stop the workers (a running step is abandoned) and the dispatcher."""
        self._stopping = True
        self._wake_write.send_bytes(b"1")
        if self._thread is not None:
            self._thread.join(timeout=30)
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.connection.send_bytes(b"")
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.connection.close()
        self._workers = []
        self._wake_read.close()
        self._wake_write.close()

    def _start_worker(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child,), name="steward-step-worker", daemon=True
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._workers.append(worker)
        return worker

    def _assign(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                idle = next((w for w in self._workers if w.task is None), None)
                if idle is None and len(self._workers) >= self.size:
                    return
                task, future = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                payload = pickle.dumps(task)
            except Exception as exc:
                future.set_result(
                    StepResult(
                        task.node,
                        error=f"cannot send step {task.node!r} to a worker process ({exc}); "
                        "define steps at the top level of an importable module or script",
                    )
                )
                continue
            worker = idle or self._start_worker()
            worker.task, worker.future = task, future
            worker.connection.send_bytes(payload)

    def _dispatch(self) -> None:
        while not self._stopping:
            self._assign()
            busy = [worker for worker in self._workers if worker.task is not None]
            handles: list[Any] = [self._wake_read]
            for worker in busy:
                handles += [worker.connection, worker.process.sentinel]
            for ready in wait(handles, timeout=1.0):
                if ready is self._wake_read:
                    wake: Any = ready
                    while wake.poll():
                        wake.recv_bytes()
                    continue
                for worker in busy:
                    if worker.task is not None and ready in (
                        worker.connection,
                        worker.process.sentinel,
                    ):
                        self._finish(worker)

    def _finish(self, worker: _Worker) -> None:
        task, future = worker.task, worker.future
        assert task is not None and future is not None
        message: Any = None
        try:
            if worker.connection.poll():
                message = worker.connection.recv()
        except (EOFError, OSError):
            message = None
        worker.task, worker.future = None, None
        if message is not None and message[0] == "done":
            future.set_result(message[1])
            return
        if message is not None:
            future.set_result(StepResult(task.node, error=f"WorkerLost: {message[1]}"))
            return
        worker.process.join(timeout=5)
        self._workers.remove(worker)
        future.set_exception(
            WorkerLost(
                f"the worker process running step {task.node!r} "
                f"{describe_exit(worker.process.exitcode)}"
            )
        )
