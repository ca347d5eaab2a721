"""CPU-bound steps for the Ray speed-up measure of benchmarks/pipelines.py (importable by
Ray workers, which see the driver's sys.path)."""

from __future__ import annotations

import steward


@steward.step
def burn(index: int, loops: int) -> int:
    total = 0
    for value in range(loops):
        total = (total + value * index) % 1_000_003
    return total


@steward.step
def gather(values: list[int]) -> int:
    return sum(values)


@steward.pipeline
def cpu_bound(width: int = 4, loops: int = 3_000_000, salt: int = 0):
    return gather([burn(index + salt * 1000, loops) for index in range(width)])


@steward.step
def nothing(index: int, previous: int | None = None) -> int:
    return index


@steward.pipeline
def chain(length: int = 20, salt: int = 0):
    previous = None
    for index in range(length):
        previous = nothing(index + salt * 1000, previous)
    return previous
