"""The background writer of batch scoring's prediction log: order, bound, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from steward.pipelines.log_writer import BackgroundWriter


def failing(error: Exception, after: threading.Event | None = None) -> Callable[[], None]:
    """A write that raises ``error`` (once ``after`` is set, if given)."""

    def write() -> None:
        if after is not None:
            after.wait(5)
        raise error

    return write


def test_writes_run_in_order_off_the_calling_thread() -> None:
    done: list[tuple[int, str]] = []
    with BackgroundWriter() as writer:
        for number in range(5):
            writer.submit(lambda n=number: done.append((n, threading.current_thread().name)))
    assert [n for n, _ in done] == [0, 1, 2, 3, 4]  # all written when the block ends
    assert all(name.startswith("steward-log-writer") for _, name in done)


def test_submit_blocks_while_depth_writes_wait_behind_the_running_one() -> None:
    release = threading.Event()
    writer = BackgroundWriter(depth=1)
    writer.submit(release.wait)  # runs, blocked
    writer.submit(lambda: None)  # waits behind it: the queue is full
    third = threading.Thread(target=writer.submit, args=(lambda: None,))
    third.start()
    time.sleep(0.2)
    assert third.is_alive(), "a third write was queued past the bound"
    release.set()
    third.join(5)
    assert not third.is_alive()
    writer.close()


def test_a_failed_write_is_raised_at_the_next_submit_and_stops_the_caller() -> None:
    writer = BackgroundWriter(depth=1)
    writer.submit(failing(OSError(28, "No space left on device")))
    with pytest.raises(OSError, match="No space left"):
        writer.submit(lambda: None)  # raises here if the write has failed already,
        writer.submit(lambda: None)  # else here, waiting for it: the queue is full
    writer.close()


def test_leaving_on_an_error_finishes_queued_writes_and_reports_the_callers_error() -> None:
    done: list[int] = []
    release = threading.Event()
    with pytest.raises(KeyError) as raised, BackgroundWriter() as writer:
        writer.submit(lambda: (release.wait(5), done.append(1)))
        writer.submit(failing(OSError("disk gone")))
        release.set()
        raise KeyError("model failed")
    assert done == [1]  # what was queued before the error was still written
    assert "disk gone" in " ".join(raised.value.__notes__)


def test_drain_raises_the_first_failure_after_every_write_ran() -> None:
    done: list[int] = []
    release = threading.Event()
    writer = BackgroundWriter(depth=3)
    writer.submit(failing(ValueError("first"), after=release))
    writer.submit(lambda: done.append(2))
    writer.submit(failing(ValueError("second")))
    release.set()
    with pytest.raises(ValueError, match="first"):
        writer.drain()
    assert done == [2]
    writer.close()
    with pytest.raises(ValueError):
        BackgroundWriter(depth=0)
