"""The LightGBM flavor (when lightgbm is installed): LightGBM's text model format, no pickle."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from steward.errors import require
from steward.models.flavors import TrustedNames, top_module

MODEL_FILE = "model.txt"


class LightGBMPredictor:
    """A ``lightgbm.Booster`` with scikit-learn-like ``predict`` / ``predict_proba``."""

    def __init__(self, booster: Any, classifier: bool, classes: list[Any] | None) -> None:
        self.booster = booster
        self.classifier = classifier
        self.classes = classes

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities (classifiers)."""
        import numpy as np

        raw = np.asarray(self.booster.predict(data))
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw

    def predict(self, data: Any) -> Any:
        """Labels for classifiers, values for regressors."""
        if not self.classifier:
            return self.booster.predict(data)
        proba = self.predict_proba(data)
        index = proba.argmax(axis=1)
        return index if self.classes is None else __import__("numpy").asarray(self.classes)[index]


class LightGBMFlavor:
    """``lightgbm.Booster`` and the scikit-learn wrappers (``LGBMClassifier``…)."""

    name = "lightgbm"
    libraries: tuple[str, ...] = ("lightgbm", "numpy", "scipy")

    def matches(self, model: Any) -> bool:
        """Objects whose class comes from the lightgbm package."""
        return top_module(model) == "lightgbm"

    def save(self, model: Any, folder: Path, *, trust_pickle: bool) -> dict[str, Any]:
        """Write the booster as LightGBM text."""
        booster = getattr(model, "booster_", model)
        booster.save_model(str(folder / MODEL_FILE))
        classes = getattr(model, "classes_", None)
        return {
            "file": MODEL_FILE,
            "serialization": "lightgbm-text",
            "classifier": classes is not None,
            "classes": None
            if classes is None
            else [c.item() if hasattr(c, "item") else c for c in classes],
            "predict_proba": classes is not None,
        }

    def load(
        self, folder: Path, info: dict[str, Any], *, trust: TrustedNames, files: Collection[str]
    ) -> Any:
        """A booster wrapped to predict like the original estimator."""
        lightgbm: Any = require("lightgbm", "lightgbm", "Loading LightGBM models")
        booster = lightgbm.Booster(model_file=str(folder / info["file"]))
        return LightGBMPredictor(booster, bool(info.get("classifier")), info.get("classes"))
