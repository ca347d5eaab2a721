"""Model flavors: how one kind of model is saved, loaded and asked to predict.

Each flavor sits behind the small ``Flavor`` protocol and is registered by
name as ``"module:Class"``, imported only when used, so ``import steward``
never pulls in scikit-learn, ONNX, XGBoost or LightGBM.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

from steward.errors import InvalidInput

FLAVORS: dict[str, str] = {
    "onnx": "steward.models.flavors.onnx:OnnxFlavor",
    "xgboost": "steward.models.flavors.xgboost:XGBoostFlavor",
    "lightgbm": "steward.models.flavors.lightgbm:LightGBMFlavor",
    "sklearn": "steward.models.flavors.sklearn:SklearnFlavor",
    "pyfunc": "steward.models.flavors.pyfunc:PyfuncFlavor",
}
"""Flavors by name, in the order detection tries them."""

Trust: TypeAlias = bool | Iterable[str]
"""What the loading user trusts: ``True`` (everything, pickle included), ``False``
(only what Steward trusts), or the dotted names of further types and callables."""

TrustedNames: TypeAlias = Literal[True] | frozenset[str]
"""``Trust`` normalised: everything, or a set of dotted names (empty: nothing more)."""


def trusted_names(trust: Trust) -> TrustedNames:
    """Normalise what the loading user trusts.

    Raises:
        InvalidInput: ``trust`` is neither a bool nor names (a lone string is refused,
            since it would be read letter by letter).
    """
    if trust is True or trust is False:
        return True if trust else frozenset()
    if isinstance(trust, str | bytes) or not isinstance(trust, Iterable):
        raise InvalidInput(
            f"trust must be True, False or a list of dotted names, not {trust!r}: "
            "for example trust=['numpy.log1p']."
        )
    names = frozenset(trust)
    bad = sorted(repr(name) for name in names if not isinstance(name, str) or not name.strip())
    if bad:
        raise InvalidInput(f"trust names must be non-empty strings; got {', '.join(bad)}.")
    return frozenset(name.strip() for name in names)


class Flavor(Protocol):
    """How one kind of model is saved to a folder and loaded back."""

    name: str
    libraries: tuple[str, ...]
    """Distributions the flavor needs at load time; always pinned in the lock."""

    def matches(self, model: Any) -> bool:
        """Whether ``model`` is of this flavor (without importing optional libraries)."""

    def save(self, model: Any, folder: Path, *, trust_pickle: bool) -> dict[str, Any]:
        """Write the model's files into ``folder``; return the flavor's metadata."""

    def load(
        self, folder: Path, info: dict[str, Any], *, trust: TrustedNames, files: Collection[str]
    ) -> Any:
        """Load the model from verified files in ``folder``; return an object with ``predict``.

        ``info`` comes from the model's descriptor, which may be hostile: its paths
        are already checked, but nothing in it widens what is trusted. ``files`` are
        the model's verified files (paths relative to ``folder``): the only ones a
        flavor may open.
        """


def get_flavor(name: str) -> Flavor:
    """The flavor registered as ``name``.

    Raises:
        InvalidInput: no flavor has that name.
    """
    target = FLAVORS.get(name)
    if target is None:
        raise InvalidInput(
            f"unknown model flavor {name!r}; known flavors: {', '.join(sorted(FLAVORS))}."
        )
    module_name, class_name = target.split(":")
    flavor: Flavor = getattr(importlib.import_module(module_name), class_name)()
    return flavor


def top_module(obj: Any) -> str:
    """The top-level package an object's class comes from (``sklearn``, ``xgboost``…)."""
    return (type(obj).__module__ or "").split(".")[0]


def detect_flavor(model: Any, *, trust_pickle: bool = False) -> Flavor:
    """The flavor of ``model``, detected from its type.

    Raises:
        InvalidInput: no flavor recognises it (the message suggests ``PythonModel``).
    """
    for name in FLAVORS:
        flavor = get_flavor(name)
        if flavor.matches(model):
            return flavor
    if trust_pickle and callable(getattr(model, "predict", None)):
        return get_flavor("pyfunc")
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    raise InvalidInput(
        f"no model flavor recognises a {kind}. Steward stores scikit-learn, ONNX, XGBoost "
        "and LightGBM models natively; for anything else, subclass "
        "steward.models.PythonModel (implement load_context and predict) and log that, "
        "or pass trust_pickle=True to store the object with cloudpickle."
    )
