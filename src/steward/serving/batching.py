"""Adaptive micro-batching: concurrent requests share one model call.

Requests queue on an asyncio queue; one worker takes what is waiting (up to
``max_batch_rows``), runs the model once in a worker thread, so the event
loop keeps accepting requests, and hands each request its slice of the
output. While the model runs, new requests pile up and form the next batch,
so batches grow with load by themselves. The worker waits for more requests
only when the last batch was shared (an idle server answers a lone request at
once), and only while they keep coming: up to ``max_wait_ms`` in all, but no
more than a quarter of it for the next one. Clients that each wait for their
answer before asking again (a closed loop, as most are) have all sent what
they will send by then, and a server that waited out the whole
``max_wait_ms`` would sit idle for it on every batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from steward.errors import InvalidInput, StewardError

logger = logging.getLogger("steward.serving")


@dataclass
class ModelOutput:
    """What one model call returned: predictions, and probabilities when asked for."""

    predictions: Any
    probabilities: Any = None

    def rows(self, start: int, stop: int) -> ModelOutput:
        """The output for rows ``start:stop``."""
        return ModelOutput(
            self.predictions[start:stop],
            None if self.probabilities is None else self.probabilities[start:stop],
        )


InferFunction = Callable[[Any, bool], ModelOutput]


@dataclass
class _Pending:
    rows: Any
    size: int
    want_probabilities: bool
    future: asyncio.Future[ModelOutput]


def _combine(parts: list[Any]) -> Any:
    import numpy as np

    if len(parts) == 1:
        return parts[0]
    arrays = [isinstance(part, np.ndarray) for part in parts]
    if all(arrays):
        return np.concatenate(parts)
    if any(arrays):
        # A model given arrays gets every part as one: frames in its column order
        # (the signature check put them so) become their values.
        return np.concatenate([np.asarray(part) for part in parts])
    import pandas as pd

    return pd.concat(parts, ignore_index=True)


def _as_input_error(exc: Exception) -> Exception:
    if isinstance(exc, StewardError):
        return exc
    if isinstance(exc, ValueError | TypeError | KeyError | IndexError):
        # The model refused these rows; that is the caller's input, not a server fault.
        return InvalidInput(f"the model could not predict on this input: {exc}")
    return exc


class MicroBatcher:
    """Groups concurrent predictions into bounded batches run in one worker thread.

    Args:
        infer: runs the model on combined rows; the flag asks for probabilities.
        max_batch_rows: the most rows one model call takes (a bigger request runs alone).
        max_wait_ms: how long a batch may wait for more requests while under load.
        observe_batch: called with the row count of each model call (for metrics).
    """

    def __init__(
        self,
        infer: InferFunction,
        *,
        max_batch_rows: int = 64,
        max_wait_ms: float = 2.0,
        observe_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._infer = infer
        self.max_batch_rows = max(1, max_batch_rows)
        self.max_wait_s = max(0.0, max_wait_ms) / 1000
        self.gap_s = self.max_wait_s / 4
        """The longest wait for the next request while a batch fills."""
        self._observe = observe_batch
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._stopping = False
        self._worker: asyncio.Task[None] | None = None
        self._carry: _Pending | None = None
        self._shared = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="steward-model")
        self.calls = 0

    def start(self) -> None:
        """Start the worker on the running event loop."""
        if self._worker is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, rows: Any, want_probabilities: bool = False) -> ModelOutput:
        """Predict on ``rows`` as part of the next batch.

        Raises:
            InvalidInput: the model refused these rows.
        """
        if self._queue is None:
            self.start()
        assert self._queue is not None
        future: asyncio.Future[ModelOutput] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(rows, len(rows), want_probabilities, future))
        return await future

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop after ``grace_s`` seconds, answering everything queued by then first."""
        if grace_s:
            await asyncio.sleep(grace_s)
        if self._worker is not None:
            assert self._queue is not None
            self._queue.put_nowait(None)
            await self._worker
            self._worker = None
        self._executor.shutdown(wait=False)

    async def _next_batch(self) -> list[_Pending] | None:
        assert self._queue is not None
        if self._carry is not None:
            first: _Pending | None = self._carry
            self._carry = None
        else:
            if self._stopping and self._queue.empty():
                return None
            first = await self._queue.get()
            if first is None:
                self._stopping = True
                return []
        assert first is not None
        batch, size = [first], first.size
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.max_wait_s if self._shared and not self._stopping else 0.0)
        while size < self.max_batch_rows:
            if not self._queue.empty():
                item = self._queue.get_nowait()
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), min(remaining, self.gap_s))
                except TimeoutError:
                    break  # requests stopped coming: waiting longer only idles
            if item is None:
                self._stopping = True
                break
            if size + item.size > self.max_batch_rows:
                self._carry = item
                break
            batch.append(item)
            size += item.size
        self._shared = len(batch) > 1 or not self._queue.empty() or self._carry is not None
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            live = [item for item in batch if not item.future.done()]
            if not live:
                continue
            want = any(item.want_probabilities for item in live)
            try:
                combined = _combine([item.rows for item in live])
                output = await loop.run_in_executor(self._executor, self._infer, combined, want)
                self._count(sum(item.size for item in live))
            except Exception:
                # One bad request must not fail the others: run each on its own.
                for item in live:
                    await self._run_alone(item)
                continue
            start = 0
            for item in live:
                if not item.future.done():
                    item.future.set_result(output.rows(start, start + item.size))
                start += item.size

    async def _run_alone(self, item: _Pending) -> None:
        loop = asyncio.get_running_loop()
        try:
            output = await loop.run_in_executor(
                self._executor, self._infer, item.rows, item.want_probabilities
            )
            self._count(item.size)
        except Exception as exc:
            if not item.future.done():
                item.future.set_exception(_as_input_error(exc))
            return
        if not item.future.done():
            item.future.set_result(output)

    def _count(self, rows: int) -> None:
        self.calls += 1
        if self._observe is not None:
            self._observe(rows)
