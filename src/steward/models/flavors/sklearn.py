"""The scikit-learn flavor: skops on disk, every held name checked before anything runs.

What is trusted comes from Steward (estimator classes and data types, see
``skops_trust``) and from the loading user (``trust=[...]``), never from the
model or its descriptor: no trust list to write for an ordinary model, and a
callable the model holds (``FunctionTransformer(func=...)``) is refused by name
until the user lists it.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from steward.errors import InvalidInput, UnsafeModel
from steward.models.flavors import TrustedNames, top_module

MODEL_FILE = "model.skops"
PICKLE_FILE = "model.pkl"


class SklearnFlavor:
    """scikit-learn estimators and pipelines (and scikit-learn-compatible ones)."""

    name = "sklearn"
    libraries: tuple[str, ...] = ("scikit-learn", "skops", "numpy", "scipy")

    def matches(self, model: Any) -> bool:
        """scikit-learn objects, or anything with ``fit``, ``predict`` and ``get_params``."""
        if top_module(model) == "sklearn":
            return True
        return all(
            callable(getattr(model, name, None)) for name in ("fit", "predict", "get_params")
        )

    def save(self, model: Any, folder: Path, *, trust_pickle: bool) -> dict[str, Any]:
        """Write ``model.skops`` (or, when skops cannot and pickle is trusted, ``model.pkl``)."""
        import skops.io

        info: dict[str, Any] = {
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "predict_proba": callable(getattr(model, "predict_proba", None)),
        }
        try:
            skops.io.dump(model, folder / MODEL_FILE)
        except Exception as exc:
            if not trust_pickle:
                raise InvalidInput(
                    f"skops cannot store this {info['class']}: {exc}. Replace lambdas and "
                    "local functions with importable ones, or pass trust_pickle=True to "
                    "store it with cloudpickle (loading then needs trust=True)."
                ) from exc
            (folder / MODEL_FILE).unlink(missing_ok=True)
            from steward.models.flavors.pyfunc import dump_pickle

            dump_pickle(model, folder / PICKLE_FILE)
            return {**info, "file": PICKLE_FILE, "serialization": "cloudpickle"}
        return {**info, "file": MODEL_FILE, "serialization": "skops"}

    def load(
        self, folder: Path, info: dict[str, Any], *, trust: TrustedNames, files: Collection[str]
    ) -> Any:
        """Load the estimator once every name it holds is trusted by Steward or the user."""
        if info.get("serialization") != "skops":
            from steward.models.flavors.pyfunc import load_pickle

            return load_pickle(folder / info["file"], trust=trust)
        import skops.io
        from skops.io.exceptions import UntrustedTypesFoundException

        from steward.models.flavors.skops_trust import audit

        path = folder / info["file"]
        data = path.read_bytes()
        trusted = audit(data, path.name, trust)
        try:
            return skops.io.loads(data, trusted=trusted)
        except UntrustedTypesFoundException as exc:  # skops saw a name the audit did not
            raise UnsafeModel(
                f"refusing to load {path.name}: {exc}. Nothing was executed."
            ) from exc
