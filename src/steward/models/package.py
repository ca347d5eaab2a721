"""A model on disk: its files plus ``steward-model.json`` describing and sealing them.

The metadata names the flavor, the signature, an input example, the
environment lock and the sha256 digest of every file. The descriptor is
untrusted: every path in it must be a clean relative path inside the model
folder that names one of the sealed files, and nothing in it widens what is
trusted. Loading verifies every digest (regular files only, no links) before
a byte is deserialised, and turns whatever a library raises on a damaged or
disguised file into one Steward error naming the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steward.errors import (
    IntegrityError,
    InvalidInput,
    NotFound,
    StewardError,
    UnreadableModel,
    UnsafeModel,
)
from steward.models.environment import (
    LOCK_FILE,
    EnvironmentLock,
    capture_environment,
    check_distribution_names,
)
from steward.models.flavors import Flavor, Trust, detect_flavor, get_flavor, trusted_names
from steward.models.signature import Signature, example_to_json, infer_signature
from steward.paths import check_relative_path

METADATA_FILE = "steward-model.json"
FORMAT_VERSION = 1
_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_files(files: Any) -> dict[str, dict[str, Any]]:
    """The descriptor's sealed file list, every path clean and every digest well formed."""
    if not isinstance(files, dict):
        raise InvalidInput("'files' must map file paths to their digests")
    for name, seal in files.items():
        _check_descriptor_path(f"files[{name!r}]", name)
        if name == METADATA_FILE:
            raise UnsafeModel(f"{METADATA_FILE}: it cannot seal itself (files[{name!r}]).")
        if not (
            isinstance(seal, dict)
            and isinstance(seal.get("sha256"), str)
            and _SHA256.match(seal["sha256"])
        ):
            raise InvalidInput(f"files[{name!r}] has no sha256 digest")
    return files


def _check_descriptor_path(where: str, path: Any) -> str:
    """A descriptor path that is relative, in normal form and inside the model folder.

    Raises:
        UnsafeModel: it is absolute, climbs out, holds NUL or a backslash, or has an
            empty or ``.`` segment; the message names the field.
    """
    return check_relative_path(path, f"{METADATA_FILE}: {where}", UnsafeModel)


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

    def referenced_paths(self) -> Iterator[tuple[str, Any]]:
        """Every path the descriptor points a loader at, with the field naming it."""
        yield "flavor_info.file", self.flavor_info.get("file")
        artifacts = self.flavor_info.get("artifacts") or {}
        if not isinstance(artifacts, dict):
            raise InvalidInput("flavor_info.artifacts must map names to files")
        for key, path in artifacts.items():
            yield f"flavor_info.artifacts[{key!r}]", path
        if self.onnx is not None:
            yield "onnx.file", self.onnx.get("file")

    def check_paths(self) -> None:
        """Refuse a descriptor whose paths leave the folder or name no sealed file.

        Raises:
            UnsafeModel: a path is absolute, climbs out, or is not one of ``files``.
        """
        _check_files(self.files)
        for where, path in self.referenced_paths():
            if _check_descriptor_path(where, path) not in self.files:
                raise UnsafeModel(
                    f"{METADATA_FILE}: {where} names {path!r}, which is not one of the "
                    "model's sealed files; refusing to load it."
                )

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
        """Parse ``steward-model.json`` and check every path it names.

        Raises:
            InvalidInput: not a Steward model description.
            UnsafeModel: a path in it leaves the model folder or names no sealed file.
        """
        try:
            raw = json.loads(data)
            onnx = raw.get("onnx")
            metadata = cls(
                flavor=raw["flavor"],
                flavor_info=dict(raw["flavor_info"]),
                files=raw["files"],
                environment=EnvironmentLock.from_dict(raw["environment"]),
                signature=Signature.from_dict(raw["signature"]) if raw.get("signature") else None,
                input_example=raw.get("input_example"),
                onnx=None if onnx is None else dict(onnx),
                created_at=raw.get("created_at", ""),
                extra=raw.get("extra", {}),
            )
            metadata.check_paths()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(
                f"{METADATA_FILE} is not a valid Steward model description: {exc}"
            ) from exc
        return metadata


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
    extra_requirements = check_distribution_names(extra_requirements, "extra requirement")
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
            source = (
                chosen.load(folder, info, trust=True, files=_files_in(folder))
                if chosen.name == "pyfunc"
                else model
            )
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
        name: {"sha256": file_sha256(folder / name), "size": (folder / name).stat().st_size}
        for name in _files_in(folder)
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


def _files_in(folder: Path) -> list[str]:
    """The model files in ``folder`` (relative, sorted), the descriptor left out."""
    return [
        path.relative_to(folder).as_posix()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != METADATA_FILE
    ]


def _regular_file(folder: Path, name: str) -> Path:
    """``folder / name`` if it and every folder on the way are real (no links).

    Raises:
        IntegrityError: the file is missing, or it or a folder on its way is a link.
    """
    path = folder
    for part in name.split("/"):
        path = path / part
        if path.is_symlink():
            raise IntegrityError(
                f"model file {name} in {folder} goes through a symbolic link ({path}); "
                "refusing to load it. Model folders hold regular files only."
            )
    if not path.is_file():
        raise IntegrityError(f"model file {name} is missing from {folder}; refusing to load.")
    return path


def verify_files(folder: Path, metadata: ModelMetadata) -> None:
    """Check every file against its recorded digest.

    Raises:
        IntegrityError: a file is missing, is a link, or its content changed.
    """
    for name, expected in metadata.files.items():
        path = _regular_file(folder, name)
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
        InvalidInput: the descriptor is not valid.
        UnsafeModel: a path in it leaves the folder.
    """
    path = folder / METADATA_FILE
    if not path.is_file():
        raise NotFound(f"{folder} holds no Steward model ({METADATA_FILE} is missing).")
    return ModelMetadata.from_json(path.read_bytes())


def _opened(file: str, kind: str, load: Callable[[], Any]) -> Any:
    """Run a flavor's load of ``file``; turn what its library raises into a Steward error.

    Libraries fail on a damaged or disguised file with their own exceptions
    (``BadZipFile``, ``KeyError``, ``InvalidProtobuf``, ``UnicodeDecodeError``,
    ``XGBoostError``, ``LightGBMError``…); callers get one error naming the file.
    """
    try:
        return load()
    except StewardError:
        raise
    except ModuleNotFoundError as exc:
        raise UnreadableModel(
            f"model file {file} needs the module {exc.name!r}, which is not installed here. "
            "Install the model's environment (see 'steward models env-check')."
        ) from exc
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise UnreadableModel(
            f"model file {file} cannot be read as {kind} ({type(exc).__name__}"
            f"{': ' + detail if detail else ''}): it is damaged, or not what its descriptor "
            "says. Refusing to load it; log the model again."
        ) from exc


def load_native(
    folder: Path, metadata: ModelMetadata, *, trust: Trust = False, backend: str = "native"
) -> Any:
    """Verify the files, then load the model with its flavor (or its ONNX export).

    Args:
        folder: the model folder.
        metadata: its descriptor (already path-checked).
        trust: ``True`` (everything, pickle included), or the dotted names of further
            types and callables a skops file may hold.
        backend: ``native`` or ``onnx``.

    Raises:
        IntegrityError: a file changed since logging, is missing, or is a link.
        UnsafeModel: the model needs pickle and ``trust`` is not True, or holds
            untrusted types or callables, or names files outside its folder.
        UnreadableModel: a file is damaged or disguised.
    """
    names = trusted_names(trust)
    if backend not in ("native", "onnx"):
        raise InvalidInput(f"backend must be 'native' or 'onnx', not {backend!r}.")
    if metadata.needs_trust and names is not True and backend == "native":
        from steward.models.flavors.pyfunc import load_pickle

        load_pickle(folder / metadata.flavor_info["file"], trust=names)  # raises, reads nothing
    verify_files(folder, metadata)
    if backend == "onnx":
        if not metadata.onnx:
            raise InvalidInput(
                "this model has no ONNX export; log it with onnx=True to serve it through ONNX."
            )
        from steward.models.flavors.onnx import OnnxPredictor

        file = metadata.onnx["file"]
        return _opened(file, "ONNX", lambda: OnnxPredictor(folder, file, metadata.files))
    flavor = get_flavor(metadata.flavor)
    info = metadata.flavor_info
    return _opened(
        info["file"],
        f"a {flavor.name} model",
        lambda: flavor.load(folder, info, trust=names, files=metadata.files),
    )
