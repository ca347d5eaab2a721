"""The XGBoost flavor (when xgboost is installed): XGBoost's own UBJSON format, no pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steward.errors import require
from steward.models.flavors import top_module

MODEL_FILE = "model.ubj"


class XGBoostFlavor:
    """``xgboost.Booster`` and the scikit-learn wrappers (``XGBClassifier``…)."""

    name = "xgboost"
    libraries: tuple[str, ...] = ("xgboost", "numpy", "scipy")

    def matches(self, model: Any) -> bool:
        """Objects whose class comes from the xgboost package."""
        return top_module(model) == "xgboost"

    def save(self, model: Any, folder: Path, *, trust_pickle: bool) -> dict[str, Any]:
        """Write the model in XGBoost's UBJSON format."""
        model.save_model(str(folder / MODEL_FILE))
        return {
            "file": MODEL_FILE,
            "serialization": "xgboost-ubj",
            "class": type(model).__name__,
            "predict_proba": callable(getattr(model, "predict_proba", None)),
        }

    def load(self, folder: Path, info: dict[str, Any], *, trust: bool) -> Any:
        """Rebuild the recorded class and load the file into it."""
        xgboost: Any = require("xgboost", "xgboost", "Loading XGBoost models")
        cls = getattr(xgboost, info.get("class", "Booster"), None)
        if not isinstance(cls, type):
            cls = xgboost.Booster
        model = cls()
        model.load_model(str(folder / info["file"]))
        return model
