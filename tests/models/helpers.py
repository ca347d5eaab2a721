"""Importable model classes and payloads for the model tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steward.models import ModelContext, PythonModel


class ScaledSum(PythonModel):
    """A PythonModel with JSON state and an artifact file (a weight per column)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.weights: list[float] = []

    def load_context(self, context: ModelContext) -> None:
        self.weights = [float(x) for x in Path(context.artifacts["weights"]).read_text().split()]

    def predict(self, model_input: Any) -> Any:
        values = np.asarray(model_input, dtype=float)
        return self.scale * values @ np.asarray(self.weights)


class CreatesFile:
    """Unpickling runs ``Path.touch`` on the target: a malicious ``__reduce__``."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> Any:
        return (Path.touch, (Path(self.target),))

    def predict(self, data: Any) -> Any:
        return np.zeros(len(data))


class EvilState:
    """Restoring state creates a file: what a hostile skops file could smuggle in."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["target"]).touch()
        self.__dict__.update(state)


def frame(rows: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Mixed numeric and categorical features with a binary target."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "dose": rng.normal(5, 2, rows),
            "site": rng.choice(["north", "south", "east"], rows),
        }
    )
    y = ((X["dose"] > 5) ^ (X["site"] == "east")).to_numpy().astype(int)
    return X, y


def edit_descriptor(folder: Path, edit: Any) -> None:
    """Hand-edit a model folder's ``steward-model.json``: ``edit`` changes the parsed dict."""
    import json

    path = folder / "steward-model.json"
    descriptor = json.loads(path.read_text())
    edit(descriptor)
    path.write_text(json.dumps(descriptor))


def replace_sealed(folder: Path, name: str, content: bytes) -> None:
    """Replace a model file and re-seal it, as an attacker who can write the folder would."""
    import hashlib

    (folder / name).write_bytes(content)

    def seal(descriptor: dict[str, Any]) -> None:
        descriptor["files"][name] = {
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
        }

    edit_descriptor(folder, seal)
