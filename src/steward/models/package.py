"""A model on disk: its files plus ``steward-model.json`` describing and sealing them.

The metadata names the flavor, the signature, an input example, the
environment lock and the sha256 digest of every file. Loading verifies every
digest before a byte is deserialised, and refuses on any mismatch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steward.errors import IntegrityError, InvalidInput, NotFound
from steward.models.environment import LOCK_FILE, EnvironmentLock, capture_environment
from steward.models.flavors import Flavor, detect_flavor, get_flavor
from steward.models.signature import Signature, example_to_json, infer_signature

METADATA_FILE = "steward-model.json"
FORMAT_VERSION = 1
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelMetadata:
    """What ``steward-model.json`` holds."""

    flavor: str
    flavor_info: dict[str, Any]
    files: dict[str, dict[str, Any]]
    environment: EnvironmentLock
    signature: Signature | None = None
    input_example: dict[str, Any] | None = None
    onnx: dict[str, Any] | None = None
    created_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_trust(self) -> bool:
        """Whether loading deserialises pickle (and so needs ``trust=True``)."""
        return self.flavor_info.get("serialization") in {"pickle", "cloudpickle"}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "format_version": FORMAT_VERSION,
            "flavor": self.flavor,
            "flavor_info": self.flavor_info,
            "files": self.files,
            "environment": self.environment.to_dict(),
            "signature": self.signature.to_dict() if self.signature else None,
            "input_example": self.input_example,
            "onnx": self.onnx,
            "created_at": self.created_at,
            "extra": self.extra,
        }

    def to_json(self) -> bytes:
        """Canonical JSON bytes (sorted keys), so equal metadata has an equal digest."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ModelMetadata:
        """Parse ``steward-model.json``.

        Raises:
            InvalidInput: not a Steward model description.
        """
        try:
            raw = json.loads(data)
            return cls(
                flavor=raw["flavor"],
                flavor_info=raw["flavor_info"],
                files=raw["files"],
                environment=EnvironmentLock.from_dict(raw["environment"]),
                signature=Signature.from_dict(raw["signature"]) if raw.get("signature") else None,
                input_example=raw.get("input_example"),
                onnx=raw.get("onnx"),
                created_at=raw.get("created_at", ""),
                extra=raw.get("extra", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"{METADATA_FILE} is not a valid Steward model description: {exc}"
            ) from exc


def _native_output(model: Any, flavor: Flavor, input_example: Any) -> Any:
    from steward.models.signature import _as_frame

    data = input_example
    if flavor.name == "sklearn" and not hasattr(model, "feature_names_in_"):
        frame = _as_frame(input_example)
        data = frame.to_numpy() if frame is not None else input_example
    try:
        return model.predict(data)
    except Exception as exc:
        raise InvalidInput(
            f"the model's predict failed on the input example: {exc}. Pass an input example "
            "the model accepts."
        ) from exc


def save_model(
    model: Any,
    folder: Path,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    flavor: str | None = None,
    trust_pickle: bool = False,
    onnx: bool = False,
    onnx_tolerance: float = 1e-6,
    onnx_check_data: Any = None,
    artifacts: dict[str, str] | None = None,
    extra_requirements: tuple[str, ...] = (),
) -> ModelMetadata:
    """Write ``model`` and its ``steward-model.json`` into an empty ``folder``.

    Raises:
        InvalidInput: unknown flavor, an object that cannot be stored safely, or an
            input example the model rejects.
    """
    folder.mkdir(parents=True, exist_ok=True)
    chosen = get_flavor(flavor) if flavor else detect_flavor(model, trust_pickle=trust_pickle)
    if chosen.name == "pyfunc":
        info = chosen.save(model, folder, trust_pickle=trust_pickle, artifacts=artifacts)  # type: ignore[call-arg]
    else:
        if artifacts:
            raise InvalidInput("artifacts are supported for PythonModel models only.")
        info = chosen.save(model, folder, trust_pickle=trust_pickle)
    if chosen.name == "sklearn":
        info["fitted_on_frame"] = hasattr(model, "feature_names_in_")
    example_json = None
    if input_example is not None:
        example_json = example_to_json(input_example)
        if signature is None and chosen.name != "onnx":
            # A PythonModel predicts only after load_context, so ask the reloaded one.
            source = chosen.load(folder, info, trust=True) if chosen.name == "pyfunc" else model
            signature = infer_signature(
                input_example, _native_output(source, chosen, input_example)
            )
        elif signature is None:
            signature = infer_signature(input_example)
    onnx_info = None
    if onnx:
        if chosen.name != "sklearn":
            raise InvalidInput("onnx=True exports scikit-learn models; this one is not.")
        from steward.models.onnx_export import export_sklearn

        onnx_info = export_sklearn(
            model, folder, input_example, onnx_check_data, tolerance=onnx_tolerance
        )
    libraries = (*chosen.libraries, *(("onnx", "onnxruntime", "skl2onnx") if onnx else ()))
    if info.get("serialization") == "cloudpickle":
        libraries = (*libraries, "cloudpickle")
    environment = capture_environment(libraries, extra_requirements)
    (folder / LOCK_FILE).write_text(environment.lock_text())
    files = {
        path.relative_to(folder).as_posix(): {
            "sha256": file_sha256(path),
            "size": path.stat().st_size,
        }
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != METADATA_FILE
    }
    metadata = ModelMetadata(
        flavor=chosen.name,
        flavor_info=info,
        files=files,
        environment=environment,
        signature=signature,
        input_example=example_json,
        onnx=onnx_info,
        created_at=datetime.now(UTC).isoformat(),
    )
    (folder / METADATA_FILE).write_bytes(metadata.to_json())
    return metadata


def verify_files(folder: Path, metadata: ModelMetadata) -> None:
    """Check every file against its recorded digest.

    Raises:
        IntegrityError: a file is missing or its content changed.
    """
    for name, expected in metadata.files.items():
        path = folder / name
        if not path.is_file():
            raise IntegrityError(f"model file {name} is missing from {folder}; refusing to load.")
        actual = file_sha256(path)
        if actual != expected["sha256"]:
            raise IntegrityError(
                f"model file {path} does not match its recorded digest (sha256 {actual[:16]}… "
                f"instead of {expected['sha256'][:16]}…): it was changed after logging. "
                "Refusing to load it; restore the original or log the model again."
            )


def read_metadata(folder: Path) -> ModelMetadata:
    """Read ``steward-model.json`` from a model folder.

    Raises:
        NotFound: the folder holds no Steward model.
    """
    path = folder / METADATA_FILE
    if not path.is_file():
        raise NotFound(f"{folder} holds no Steward model ({METADATA_FILE} is missing).")
    return ModelMetadata.from_json(path.read_bytes())


def load_native(
    folder: Path, metadata: ModelMetadata, *, trust: bool = False, backend: str = "native"
) -> Any:
    """Verify the files, then load the model with its flavor (or its ONNX export).

    Raises:
        IntegrityError: a file changed since logging.
        UnsafeModel: the model needs pickle and ``trust`` is false, or holds untrusted types.
    """
    if metadata.needs_trust and not trust and backend == "native":
        from steward.models.flavors.pyfunc import load_pickle

        load_pickle(folder / metadata.flavor_info["file"], trust=False)  # raises, reads nothing
    verify_files(folder, metadata)
    if backend == "onnx":
        if not metadata.onnx:
            raise InvalidInput(
                "this model has no ONNX export; log it with onnx=True to serve it through ONNX."
            )
        from steward.models.flavors.onnx import OnnxPredictor

        return OnnxPredictor((folder / metadata.onnx["file"]).read_bytes())
    if backend != "native":
        raise InvalidInput(f"backend must be 'native' or 'onnx', not {backend!r}.")
    return get_flavor(metadata.flavor).load(folder, metadata.flavor_info, trust=trust)
