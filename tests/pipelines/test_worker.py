"""What the worker measures around a step: its peak memory."""

from __future__ import annotations

import sys

from steward.pipelines.worker import _peak_memory, _reset_peak_memory


def test_peak_memory_is_measured_from_the_reset() -> None:
    reset = _reset_peak_memory()
    assert reset is sys.platform.startswith("linux")
    before = _peak_memory(reset)
    block = bytearray(64 << 20)  # touched: resident
    during = _peak_memory(reset)
    del block
    assert before is not None and during is not None
    assert during - before >= 60 << 20
    if reset:  # a new reset forgets the block
        assert _reset_peak_memory()
        after = _peak_memory(True)
        assert after is not None and after < during - (32 << 20)
