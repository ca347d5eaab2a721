"""Models that a gate can tell apart: a champion, a better and a worse challenger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import workspace_three_ways

FEATURES = ["age", "dose", "weight", "score"]


def labelled(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Four float features, a binary label that depends on two of them, and a site."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    frame["label"] = (frame["age"] + frame["dose"] > 0).astype(int)
    frame["site"] = rng.choice(["north", "south"], rows)
    return frame


def register(
    name: str = "clf",
    *,
    columns: list[str] | None = None,
    noise: float = 0.0,
    flip: bool = False,
    seed: int = 0,
) -> Any:
    """Fit a logistic regression on ``columns`` (labels flipped on a ``noise`` share, or
    all of them), log and register it as the next version of ``name``."""
    from sklearn.linear_model import LogisticRegression

    import steward

    frame = labelled(seed=seed)
    chosen = columns or FEATURES
    y = frame["label"].to_numpy()
    rng = np.random.default_rng(seed + 1)
    flipped = rng.random(len(y)) < noise
    y = np.where(flipped, 1 - y, y)
    if flip:
        y = 1 - y
    model = LogisticRegression().fit(frame[chosen], y)
    with steward.start_run():
        info = steward.models.log(model, input_example=frame[chosen].head(5), register=name)
    return info.version


@pytest.fixture(params=["sqlite", "postgres"])
def local_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A fresh local workspace on SQLite and on PostgreSQL."""
    yield from workspace_three_ways(request, tmp_path, monkeypatch)
