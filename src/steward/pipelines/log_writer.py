"""A bounded background writer: a scoring job's prediction-log writes beside its scoring.

Entering a scored chunk into the prediction log costs a Parquet encode, a
digest, a write and an fsync of every input row; done in line, the model
waits for all of it. Arrow's Parquet writer, the digest, the write and the
fsync release the GIL, so on a thread of their own they run on a second core
while the next chunk is read and scored.

The meaning of the log does not change: a segment is visible only once it is
durable and indexed (``store_segment`` as before), and a chunk's part is
written before its log write is queued, so an interrupted job finds "part
written, log not yet" and logs the chunk when it resumes (``ChunkScorer``).
At most ``depth`` writes wait while one runs, which bounds the memory held to
a few chunks. A failed write is raised in the scoring thread at its next
``submit`` or at ``drain``, so the job stops and fails with the writer's error.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType


class BackgroundWriter:
    """Runs writes one at a time on a thread of its own, at most ``depth`` queued behind.

    Use as a context manager: leaving the block waits for every queued write;
    leaving it on an error still waits (so what was scored is logged), then
    lets the error through.
    """

    def __init__(self, depth: int = 1, name: str = "steward-log-writer") -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: deque[Future[None]] = deque()

    def submit(self, write: Callable[[], None]) -> None:
        """Queue ``write``; blocks while ``depth`` writes wait behind the running one.

        Raises:
            Exception: the error of an earlier write that failed (the first one).
        """
        while self._pending and (self._pending[0].done() or len(self._pending) > self.depth):
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(write))

    def drain(self) -> None:
        """Wait for every queued write.

        Raises:
            Exception: the error of the first write that failed; the others still run.
        """
        error: BaseException | None = None
        while self._pending:
            try:
                self._pending.popleft().result()
            except BaseException as exc:  # the first failure wins; later writes still finish
                error = error or exc
        if error is not None:
            raise error

    def close(self) -> None:
        """Wait for every queued write and stop the thread."""
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:
            self.close()
            return
        try:
            self.close()
        except Exception as failure:  # the scoring error is the one to report
            error.add_note(f"a prediction-log write failed too: {failure!r}")
