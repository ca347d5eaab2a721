"""The 20-step fan-out/fan-in every pipeline tool runs in benchmarks/pipelines.py.

One source makes a 10,000-row frame, 18 small steps each reduce it to a number,
one join sums them. Imported by each tool's snippet (plain functions; each tool
wraps them its own way) and by the plain-Python baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ROWS = 10_000
WIDTH = 18


def source(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])


def small(frame: pd.DataFrame, index: int) -> float:
    column = frame[f"x{index % 10}"]
    return float((column * (index + 1)).clip(-2, 2).mean())


def join(values: list[float]) -> float:
    return float(sum(values))
