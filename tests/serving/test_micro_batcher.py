"""The micro-batcher on its own: what one model call receives."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from steward.serving.batching import MicroBatcher, ModelOutput


class _Recorder:
    """A model that records the rows of each call and answers one label a row."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, rows: Any, want_probabilities: bool) -> ModelOutput:
        self.calls.append(rows)
        return ModelOutput(np.arange(len(rows)))


def test_a_request_larger_than_a_batch_runs_whole_and_uncopied() -> None:
    recorder = _Recorder()
    rows = np.random.default_rng(0).normal(size=(1_000, 20))

    async def go() -> ModelOutput:
        batcher = MicroBatcher(recorder, max_batch_rows=64)
        try:
            return await batcher.submit(rows)
        finally:
            await batcher.stop()

    output = asyncio.run(go())
    assert len(recorder.calls) == 1
    assert recorder.calls[0] is rows
    np.testing.assert_array_equal(output.predictions, np.arange(1_000))


def test_large_requests_waiting_together_are_not_merged_past_the_batch_size() -> None:
    recorder = _Recorder()
    parts = [np.full((1_000, 3), float(index)) for index in range(3)]

    async def go() -> list[ModelOutput]:
        batcher = MicroBatcher(recorder, max_batch_rows=64)
        try:
            return list(await asyncio.gather(*(batcher.submit(part) for part in parts)))
        finally:
            await batcher.stop()

    outputs = asyncio.run(go())
    assert [len(call) for call in recorder.calls] == [1_000, 1_000, 1_000]
    assert all(any(call is part for call in recorder.calls) for part in parts)
    assert [len(output.predictions) for output in outputs] == [1_000] * 3


def _after_a_shared_batch(arrivals: list[float]) -> tuple[float, list[int]]:
    """Seconds to answer requests arriving at ``arrivals`` (s) after a shared batch
    (so the batcher may wait), and the rows of each model call for them."""
    recorder = _Recorder()

    async def go() -> float:
        batcher = MicroBatcher(recorder, max_batch_rows=64, max_wait_ms=800)
        loop = asyncio.get_running_loop()
        row = np.zeros((1, 3))

        async def at(delay: float) -> ModelOutput:
            await asyncio.sleep(delay)
            return await batcher.submit(row)

        try:
            await asyncio.gather(*(batcher.submit(row) for _ in range(3)))
            started = loop.time()
            await asyncio.gather(*(at(delay) for delay in arrivals))
            return loop.time() - started
        finally:
            await batcher.stop()

    seconds = asyncio.run(go())
    return seconds, [len(call) for call in recorder.calls[1:]]


def test_a_batch_stops_waiting_when_requests_stop_coming() -> None:
    # Every client waits on us: the lone request runs after a gap (200 ms), not after
    # the whole 800 ms a batch may wait.
    seconds, calls = _after_a_shared_batch([0.0])
    assert calls == [1] and 0.15 < seconds < 0.6


def test_requests_that_keep_coming_still_share_a_call() -> None:
    seconds, calls = _after_a_shared_batch([0.0, 0.05, 0.1, 0.15, 0.2])
    assert calls == [5] and seconds < 0.8
