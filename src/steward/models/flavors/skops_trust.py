"""Which of what a skops file holds Steward trusts, and which the loading user must.

A skops file describes every object it rebuilds by a loader and a dotted name.
The trust set comes from two places only, never from the model or its
descriptor:

- Steward trusts *classes* that are estimators or data types: any class of
  scikit-learn (estimators and the structures they hold: trees, loss objects,
  splitters…), the estimator classes and boosters of XGBoost, LightGBM and
  imbalanced-learn, numpy's arrays, scalars, dtypes and random generators
  (``numpy.memmap``, which opens files, is not one), scipy's sparse matrices
  and splines, and Python's plain containers and scalars. A name must resolve to
  a class defined in that library (a re-export of something else does not
  count), and test helpers are never trusted.
- Every *callable* a model holds (a function, a method, a builtin such as
  ``builtins.eval``, a ``functools.partial``, an ``operator`` getter) and every
  other class is trusted only when the loading user lists its dotted name
  (``steward.models.load(uri, trust=[...])``, ``steward serve --trust-type``).
  A callable runs when the model predicts: a ``FunctionTransformer`` holding
  ``sklearn.datasets.dump_svmlight_file`` writes a file on every ``predict``.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from steward.errors import UnreadableModel, UnsafeModel
from steward.models.flavors import TrustedNames

_CALLABLE_LOADERS = frozenset({"FunctionNode", "MethodNode", "PartialNode", "OperatorFuncNode"})
_DENIED_PARTS = frozenset({"testing", "_testing", "f2py", "distutils"})
"""Never trusted, even inside a trusted library: test helpers can run code."""
_ESTIMATOR_LIBRARIES = frozenset({"xgboost", "lightgbm", "imblearn"})
_BOOSTERS = frozenset({"xgboost.core.Booster", "lightgbm.basic.Booster"})
_PLAIN_TYPES = frozenset(
    f"builtins.{name}"
    for name in [
        "bool",
        "bytearray",
        "bytes",
        "complex",
        "dict",
        "float",
        "frozenset",
        "int",
        "list",
        "map",
        "NoneType",
        "range",
        "set",
        "slice",
        "str",
        "tuple",
    ]
) | frozenset({"collections.OrderedDict", "collections.defaultdict", "collections.Counter"})
_SCIPY_DATA_TYPES = frozenset({"scipy.interpolate._bsplines.BSpline"})
SCHEMA_FILE = "schema.json"


@dataclass(frozen=True)
class Holding:
    """One dotted name a skops file holds, and whether it is a callable."""

    name: str
    is_callable: bool


def _schema(data: bytes, file_name: str) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read(SCHEMA_FILE))
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
        raise UnreadableModel(
            f"model file {file_name} is not a skops file ({type(exc).__name__}: {exc}); "
            "refusing to load it. Log the model again."
        ) from exc


def _builtin_is_callable(name: str) -> bool:
    module, _, attribute = name.rpartition(".")
    return module == "builtins" and not isinstance(getattr(builtins, attribute, None), type)


def holdings(data: bytes, file_name: str) -> list[Holding]:
    """Every dotted name the skops file ``data`` would resolve while loading, sorted.

    Raises:
        UnreadableModel: the bytes are not a skops file.
    """
    found: dict[str, bool] = {}
    pending: list[Any] = [_schema(data, file_name)]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        pending.extend(item.values())
        loader = item.get("__loader__")
        if loader is None:
            continue
        name = f"{item.get('__module__')}.{item.get('__class__')}"
        content = item.get("content")
        if loader == "MethodNode" and isinstance(content, dict):
            owner = content.get("obj")
            if isinstance(owner, dict):
                name = f"{owner.get('__module__')}.{owner.get('__class__')}.{content.get('func')}"
        is_callable = loader in _CALLABLE_LOADERS or (
            loader == "TypeNode" and _builtin_is_callable(name)
        )
        found[name] = found.get(name, False) or is_callable
    return [Holding(name, is_callable) for name, is_callable in sorted(found.items())]


def _is_data_type(cls: type, library: str, name: str) -> bool:
    if library == "sklearn":
        return True
    if library in _ESTIMATOR_LIBRARIES:
        from sklearn.base import BaseEstimator

        return name in _BOOSTERS or issubclass(cls, BaseEstimator)
    if library == "numpy":
        import numpy

        random = numpy.random
        kinds: tuple[type, ...] = (numpy.generic, numpy.dtype, numpy.ndarray, random.RandomState)
        kinds += (random.Generator, random.BitGenerator, random.SeedSequence)
        return issubclass(cls, kinds) and not issubclass(cls, numpy.memmap)
    if library == "scipy":
        import scipy.sparse

        return name in _SCIPY_DATA_TYPES or issubclass(
            cls, (scipy.sparse.spmatrix, scipy.sparse.sparray)
        )
    return False


@functools.cache
def steward_trusts(name: str) -> bool:
    """Whether Steward itself trusts the class ``name`` (see the module's docstring)."""
    if name in _PLAIN_TYPES:
        return True
    module_name, _, class_name = name.rpartition(".")
    parts = module_name.split(".")
    library = parts[0]
    trusted_library = library in {"sklearn", "numpy", "scipy"} | _ESTIMATOR_LIBRARIES
    if not trusted_library or _DENIED_PARTS & set(parts[1:]) or not class_name:
        return False
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except Exception:  # not importable here: not something Steward can vouch for
        return False
    if not isinstance(cls, type) or (cls.__module__ or "").split(".")[0] != library:
        return False
    return _is_data_type(cls, library, name)


def audit(data: bytes, file_name: str, trust: TrustedNames) -> list[str]:
    """The names to hand skops as trusted, once every one is trusted by Steward or the user.

    Raises:
        UnreadableModel: the bytes are not a skops file.
        UnsafeModel: the file holds callables or classes nobody trusted; nothing ran.
    """
    held = holdings(data, file_name)
    if trust is True:
        return [holding.name for holding in held]
    callables = [h.name for h in held if h.is_callable and h.name not in trust]
    classes = [
        h.name
        for h in held
        if not h.is_callable and h.name not in trust and not steward_trusts(h.name)
    ]
    if callables or classes:
        raise UnsafeModel(_refusal(file_name, callables, classes))
    return [holding.name for holding in held]


def _refusal(file_name: str, callables: list[str], classes: list[str]) -> str:
    parts = []
    if callables:
        parts.append(
            "callables that run when the model predicts, which Steward never trusts on its "
            f"own: {', '.join(callables)}"
        )
    if classes:
        parts.append(
            f"types that are neither estimators nor data types Steward knows: {', '.join(classes)}"
        )
    names = [*callables, *classes]
    listed = ", ".join(repr(name) for name in names)
    flags = " ".join(f"--trust-type {name}" for name in names)
    return (
        f"refusing to load {file_name}: it holds {'; and '.join(parts)}. Nothing was executed. "
        "If you trust whoever wrote this model, list them when loading: "
        f"steward.models.load(uri, trust=[{listed}]), or steward serve MODEL {flags}."
    )
