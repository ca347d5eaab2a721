"""The scikit-learn flavor: skops on disk, types checked against an allowlist on load.

No trust list to write: loading accepts exactly the types whose top-level
package is scikit-learn, numpy, scipy, or a library the model was recorded
with (e.g. xgboost inside a pipeline), and refuses anything else by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steward.errors import InvalidInput, UnsafeModel
from steward.models.flavors import top_module

MODEL_FILE = "model.skops"
PICKLE_FILE = "model.pkl"
BASE_TRUSTED = ("sklearn", "numpy", "scipy")
# Never trusted, even under an allowed package: test helpers can run code.
_DENIED_PARTS = frozenset({"testing", "_testing", "f2py", "distutils"})
_ESTIMATOR_PACKAGES = ("xgboost", "lightgbm", "catboost", "imblearn")


def _component_packages(model: Any) -> set[str]:
    packages = {top_module(model)}
    get_params = getattr(model, "get_params", None)
    if callable(get_params):
        try:
            params = get_params(deep=True)
        except Exception:  # a third-party estimator with a broken get_params
            params = {}
        for value in params.values():
            if hasattr(value, "fit"):
                packages.add(top_module(value))
    return {package for package in packages if package in _ESTIMATOR_PACKAGES}


def is_allowed_type(type_name: str, trusted_packages: tuple[str, ...]) -> bool:
    """Whether a skops type name lies in a trusted package (and not in its test helpers)."""
    parts = type_name.split(".")
    return parts[0] in trusted_packages and not (_DENIED_PARTS & set(parts[1:-1]))


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
            "trusted_packages": sorted({*BASE_TRUSTED, *_component_packages(model)}),
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

    def load(self, folder: Path, info: dict[str, Any], *, trust: bool) -> Any:
        """Load the estimator, refusing types outside the trusted packages."""
        if info.get("serialization") != "skops":
            from steward.models.flavors.pyfunc import load_pickle

            return load_pickle(folder / info["file"], trust=trust)
        import skops.io

        path = folder / info["file"]
        trusted_packages = tuple(info.get("trusted_packages", BASE_TRUSTED))
        untrusted = skops.io.get_untrusted_types(file=path)
        refused = [name for name in untrusted if not is_allowed_type(name, trusted_packages)]
        if refused:
            raise UnsafeModel(
                f"refusing to load {path.name}: it contains types outside the trusted packages "
                f"({', '.join(trusted_packages)}): {', '.join(refused)}. Nothing was executed. "
                "If you wrote this model yourself, log it again as a PythonModel."
            )
        return skops.io.load(path, trusted=untrusted)
