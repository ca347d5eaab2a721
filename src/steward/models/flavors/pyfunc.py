"""The generic flavor: ``PythonModel`` subclasses, and trusted cloudpickle.

A ``PythonModel`` is stored *by reference* (its importable class, its
JSON-able attributes and its artifact files), so loading it imports that
class and runs no pickled code. Anything that needs pickle (a class defined
in ``__main__``, attributes that are not JSON, an arbitrary object with a
``predict``) is stored with cloudpickle only under ``trust_pickle=True``,
and loading it needs ``trust=True``.
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steward.errors import InvalidInput, UnsafeModel
from steward.models.flavors import TrustedNames

PICKLE_FILE = "model.pkl"
STATE_FILE = "python_model.json"
ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True)
class ModelContext:
    """What ``PythonModel.load_context`` gets: local paths of the model's artifacts."""

    artifacts: dict[str, str] = field(default_factory=dict)


class PythonModel:
    """Base class for models of any kind: subclass it and implement ``predict``.

    Override ``load_context`` to load artifact files (weights, vocabularies)
    when the model is loaded. Define the subclass in an importable module so
    it is stored by reference, with no pickle.
    """

    def load_context(self, context: ModelContext) -> None:
        """Prepare the model after loading (read ``context.artifacts``)."""

    def predict(self, model_input: Any) -> Any:
        """Return predictions for ``model_input`` (a DataFrame or array)."""
        raise NotImplementedError("subclasses of PythonModel implement predict()")


def dump_pickle(model: Any, path: Path) -> None:
    """Store ``model`` with cloudpickle.

    Raises:
        InvalidInput: the object cannot be pickled.
    """
    import cloudpickle

    try:
        data = cloudpickle.dumps(model)
    except Exception as exc:
        raise InvalidInput(
            f"cannot pickle this {type(model).__qualname__}: {exc}. Remove unpicklable "
            "attributes (open files, locks, connections, generators) or implement a "
            "PythonModel that rebuilds them in load_context."
        ) from exc
    path.write_bytes(data)


def load_pickle(path: Path, *, trust: TrustedNames) -> Any:
    """Load a pickled model, only when the caller trusts everything (``trust=True``).

    Raises:
        UnsafeModel: ``trust`` is not ``True`` (a list of names does not cover pickle);
            nothing was read or executed.
    """
    if trust is not True:
        raise UnsafeModel(
            f"refusing to load {path.name}: it was stored with (cloud)pickle, which can run "
            "arbitrary code while loading. Load it with trust=True only if you trust whoever "
            "wrote it (steward.models.load(uri, trust=True), or steward serve MODEL --trust)."
        )
    import cloudpickle

    with path.open("rb") as handle:
        return cloudpickle.load(handle)


def _json_state(model: Any) -> dict[str, Any] | None:
    state = dict(vars(model))
    try:
        text = json.dumps(state)
    except (TypeError, ValueError):
        return None
    return dict(json.loads(text))


def _importable(cls: type) -> bool:
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return False
    try:
        return _resolve(f"{cls.__module__}:{cls.__qualname__}") is cls
    except Exception:
        return False


def _resolve(reference: str) -> Any:
    module_name, qualname = reference.split(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


class PyfuncFlavor:
    """``PythonModel`` subclasses, and any object with ``predict`` under trusted pickle."""

    name = "pyfunc"
    libraries: tuple[str, ...] = ()

    def matches(self, model: Any) -> bool:
        """Instances of ``PythonModel``."""
        return isinstance(model, PythonModel)

    def save(
        self,
        model: Any,
        folder: Path,
        *,
        trust_pickle: bool,
        artifacts: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Store by reference where possible, else with cloudpickle (if trusted)."""
        names: dict[str, str] = {}
        for key, source in (artifacts or {}).items():
            source_path = Path(source)
            if not source_path.is_file():
                raise InvalidInput(f"artifact {key!r}: {source_path} is not a file.")
            target = folder / ARTIFACTS_DIR / key / source_path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_path, target)
            names[key] = target.relative_to(folder).as_posix()
        info: dict[str, Any] = {
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "artifacts": names,
            "predict_proba": callable(getattr(model, "predict_proba", None)),
        }
        state = _json_state(model) if isinstance(model, PythonModel) else None
        if state is not None and _importable(type(model)):
            (folder / STATE_FILE).write_text(json.dumps(state, sort_keys=True))
            reference = f"{type(model).__module__}:{type(model).__qualname__}"
            return {
                **info,
                "serialization": "reference",
                "reference": reference,
                "file": STATE_FILE,
            }
        if not trust_pickle:
            why = (
                "its attributes are not JSON"
                if state is None
                else "its class is not importable (defined in __main__ or a function)"
            )
            raise InvalidInput(
                f"cannot store this {type(model).__qualname__} without pickle: {why}. Move "
                "the class to an importable module and keep large state in artifacts, or pass "
                "trust_pickle=True to store it with cloudpickle."
            )
        dump_pickle(model, folder / PICKLE_FILE)
        return {**info, "serialization": "cloudpickle", "file": PICKLE_FILE}

    def load(
        self, folder: Path, info: dict[str, Any], *, trust: TrustedNames, files: Collection[str]
    ) -> Any:
        """Rebuild the model and call its ``load_context``."""
        if info.get("serialization") == "reference":
            cls = _resolve(info["reference"])
            if not (isinstance(cls, type) and issubclass(cls, PythonModel)):
                raise UnsafeModel(
                    f"refusing to load: {info['reference']} is not a steward.models.PythonModel."
                )
            model = cls.__new__(cls)
            model.__dict__.update(json.loads((folder / info["file"]).read_text()))
        else:
            model = load_pickle(folder / info["file"], trust=trust)
        if isinstance(model, PythonModel):
            paths = {key: str(folder / path) for key, path in info.get("artifacts", {}).items()}
            model.load_context(ModelContext(paths))
        return model
