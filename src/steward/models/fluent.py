"""``steward.models.log`` and ``steward.models.load``: models as run artifacts.

A logged model is a folder of run artifacts (content-addressed blobs) with a
``steward-model.json`` that seals them; a registered version points at that
metadata blob by digest, so what is loaded is exactly what was logged.

What a load trusts comes from its caller (``trust=``), never from the model:
see ``docs/models.md``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput, NotFound
from steward.models.flavors import Trust, trusted_names
from steward.models.package import (
    METADATA_FILE,
    ModelMetadata,
    load_native,
    read_metadata,
    save_model,
)
from steward.models.stored import materialize
from steward.models.uri import parse_model_uri

if TYPE_CHECKING:
    from steward.models.loaded import LoadedModel
    from steward.models.signature import Signature
    from steward.store.registry import ModelVersion
    from steward.workspace import Workspace

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".cloudpickle")


@dataclass(frozen=True)
class ModelInfo:
    """What ``log`` stored: where, how, and the registered version if any."""

    run_id: str
    artifact_path: str
    flavor: str
    metadata_digest: str
    metadata: ModelMetadata
    version: ModelVersion | None = None

    @property
    def uri(self) -> str:
        """``runs:/<run_id>/<artifact_path>``."""
        return f"runs:/{self.run_id}/{self.artifact_path}"

    @property
    def signature(self) -> Signature | None:
        """The stored signature."""
        return self.metadata.signature


def log(
    model: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    flavor: str | None = None,
    register: str | None = None,
    trust_pickle: bool = False,
    onnx: bool = False,
    onnx_tolerance: float = 1e-6,
    onnx_check_data: Any = None,
    artifacts: dict[str, str] | None = None,
    extra_requirements: tuple[str, ...] = (),
    description: str | None = None,
) -> ModelInfo:
    """Store ``model`` in the active run, and optionally register it as a new version.

    Args:
        model: a scikit-learn estimator or pipeline, an ``onnx.ModelProto``, an
            XGBoost or LightGBM model, or a ``steward.models.PythonModel``.
        name: the artifact folder inside the run.
        input_example: a few rows (DataFrame, dict, records or array); the
            signature is inferred from it and the model's output on it.
        signature: an explicit signature instead of the inferred one.
        flavor: force a flavor by name instead of detecting it.
        register: a registered model name; the model becomes its next version.
        trust_pickle: allow cloudpickle where no safe format can hold the model.
        onnx: also export a scikit-learn model to ONNX, checked against its predictions.
        onnx_tolerance: largest difference allowed between ONNX and native outputs.
        onnx_check_data: rows to check the ONNX export on (default: the input example).
        artifacts: files a ``PythonModel`` needs, by name.
        extra_requirements: distributions to pin beyond those detected.
        description: description of the registered version.

    Returns:
        Where the model was stored, and its registered version if ``register`` was given.

    Raises:
        InvalidInput: no active run, unknown flavor, or a model that cannot be stored safely.
    """
    from steward.tracking import fluent as tracking
    from steward.workspace import current_workspace

    run = tracking.active_run()
    if run is None:
        raise InvalidInput(
            "steward.models.log needs an active run: wrap it in 'with steward.start_run():'."
        )
    with tempfile.TemporaryDirectory(prefix="steward-model-") as temp:
        folder = Path(temp)
        metadata = save_model(
            model,
            folder,
            input_example=input_example,
            signature=signature,
            flavor=flavor,
            trust_pickle=trust_pickle,
            onnx=onnx,
            onnx_tolerance=onnx_tolerance,
            onnx_check_data=onnx_check_data,
            artifacts=artifacts,
            extra_requirements=extra_requirements,
        )
        stored = run.log_artifacts(folder, prefix=name)
    metadata_path = f"{name}/{METADATA_FILE}"
    digest = next(item.digest for item in stored if item.path == metadata_path)
    version = None
    if register is not None:
        from steward.models.registry import _register

        run.flush()
        version = _register(
            current_workspace(), register, run.id, name, digest, metadata.flavor, description
        )
    return ModelInfo(run.id, name, metadata.flavor, digest, metadata, version)


def _load_raw_pickle(workspace: Workspace, run_id: str, path: str, trust: Trust) -> Any:
    from steward.models.flavors.pyfunc import load_pickle

    names = trusted_names(trust)
    for item in workspace.tracking.list_artifacts(run_id):
        if item.path == path:
            with tempfile.TemporaryDirectory() as temp:
                target = Path(temp) / Path(path).name
                if names is not True:
                    load_pickle(target, trust=names)  # raises before anything is read
                workspace.blobs.get_file(item.digest, target)
                return load_pickle(target, trust=True)
    raise NotFound(f"run {run_id} has no artifact {path!r}.")


def load(uri: str, *, trust: Trust = False, backend: str = "native") -> LoadedModel:
    """Load a model by URI.

    Args:
        uri: ``models:/name@alias``, ``models:/name/3`` or ``runs:/<run_id>/<path>``.
        trust: what to trust beyond Steward's own trust set (estimator classes and
            data types): a list of dotted names of the callables and types the
            model holds (``["numpy.log1p"]``; the refusal names them), or
            ``True`` for everything, pickle included (it can run code while loading).
        backend: ``native`` (the flavor's library) or ``onnx`` (the ONNX export).

    Returns:
        A ``LoadedModel`` with ``predict`` (and ``predict_proba`` where the flavor has it).

    Raises:
        NotFound: no such model, version, alias or artifact.
        IntegrityError: a file changed since logging.
        UnsafeModel: pickle without ``trust=True``, untrusted callables or types in a
            skops file, or a descriptor naming paths outside the model folder.
        UnreadableModel: a model file is damaged or disguised.
    """
    from steward.models.loaded import LoadedModel
    from steward.workspace import current_workspace

    workspace = current_workspace()
    parsed = parse_model_uri(uri)
    if parsed.run_id is not None:
        assert parsed.path is not None
        if parsed.path.endswith(_PICKLE_SUFFIXES):
            native = _load_raw_pickle(workspace, parsed.run_id, parsed.path, trust)
            return _raw_loaded(native, uri)
        folder, metadata = materialize(workspace, parsed.run_id, parsed.path, None)
    else:
        from steward.models.registry import resolve

        version = resolve(uri)
        if version.run_id is None:
            raise NotFound(f"{uri} points at no run.")
        folder, metadata = materialize(
            workspace, version.run_id, version.artifact_path, version.metadata_digest
        )
    native = load_native(folder, metadata, trust=trust, backend=backend)
    return LoadedModel(native, metadata, uri, folder, backend)


def _raw_loaded(native: Any, source: str) -> LoadedModel:
    from steward.models.environment import EnvironmentLock
    from steward.models.loaded import LoadedModel

    metadata = ModelMetadata(
        "pyfunc", {"serialization": "cloudpickle"}, {}, EnvironmentLock("", {})
    )
    return LoadedModel(native, metadata, source, Path("."))


def load_bundle(
    folder: str | Path, *, trust: Trust = False, backend: str = "native"
) -> LoadedModel:
    """Load the model of a bundle folder (``steward models bundle``), with no store at all.

    ``trust`` is as for ``load``.

    Raises:
        NotFound: the folder is not a bundle.
        IntegrityError: a file changed since the bundle was written.
        UnsafeModel: as for ``load``.
    """
    from steward.models.bundle import MODEL_DIR
    from steward.models.loaded import LoadedModel

    root = Path(folder)
    model_folder = root / MODEL_DIR if (root / MODEL_DIR).is_dir() else root
    metadata = read_metadata(model_folder)
    native = load_native(model_folder, metadata, trust=trust, backend=backend)
    return LoadedModel(native, metadata, str(root), model_folder, backend)
