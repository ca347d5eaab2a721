"""The XGBoost flavor (when xgboost is installed): XGBoost's own UBJSON format, no pickle."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from steward.errors import UnsafeModel, require
from steward.models.flavors import TrustedNames, top_module

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

    def load(
        self, folder: Path, info: dict[str, Any], *, trust: TrustedNames, files: Collection[str]
    ) -> Any:
        """Rebuild the recorded class (an XGBoost model class only) and load the file into it.

        Raises:
            UnsafeModel: the descriptor names anything but an XGBoost booster or estimator.
        """
        xgboost: Any = require("xgboost", "xgboost", "Loading XGBoost models")
        name = info.get("class", "Booster")
        cls = getattr(xgboost, name, None) if isinstance(name, str) else None
        if not (isinstance(cls, type) and issubclass(cls, (xgboost.Booster, xgboost.XGBModel))):
            raise UnsafeModel(
                f"refusing to load {info['file']}: its descriptor names class {name!r}, which "
                "is not an XGBoost booster or estimator. Log the model again."
            )
        model = cls()
        model.load_model(str(folder / info["file"]))
        return model
