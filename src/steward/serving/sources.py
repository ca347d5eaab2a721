"""Where a served model comes from, and the checks made before a server starts.

A source is a registry reference (``models:/name@alias``, ``models:/name/3``,
the short ``name@alias`` / ``name/3`` every other command takes, or
``runs:/<run_id>/<path>``) or a bundle folder (``steward models bundle``).
``ModelSource.parse`` tells them apart once, so the rest of the server never
guesses; ``preflight`` reads only the model's metadata to refuse, before any
port is opened, what could never load: a folder that is not a bundle, an
ONNX backend for a model without an export, pickle without trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput

if TYPE_CHECKING:
    from steward.models.package import ModelMetadata

_FORMS = "models:/NAME@ALIAS, NAME@ALIAS, models:/NAME/VERSION, or a bundle folder"


@dataclass(frozen=True)
class ModelSource:
    """A served model's origin: ``spec`` is a canonical registry URI or a bundle folder."""

    spec: str
    is_bundle: bool = False

    @classmethod
    def parse(cls, text: str) -> ModelSource:
        """Read a source as the command line gives it.

        Raises:
            InvalidInput: the text is neither a model reference nor a folder.
        """
        from steward.models.uri import parse_model_uri

        value = text.strip()
        if value.startswith(("models:/", "runs:/")):
            return cls(str(parse_model_uri(value)))
        folder = Path(value).expanduser()
        if value and folder.is_dir():
            return cls(str(folder.resolve()), is_bundle=True)
        try:
            return cls(str(parse_model_uri(value, allow_short=True)))
        except InvalidInput:
            pass
        raise InvalidInput(f"{text[:200]!r} is not a model to serve; give {_FORMS}.")

    @property
    def follows_alias(self) -> bool:
        """Whether the source names an alias, whose version may move."""
        return not self.is_bundle and self.spec.startswith("models:/") and "@" in self.spec

    def resolve_version(self) -> tuple[str, int | None]:
        """The model name and the version the source points at now."""
        if self.is_bundle:
            info = _bundle_info(Path(self.spec))
            return str(info.get("name") or Path(self.spec).name), info.get("version")
        if self.spec.startswith("runs:/"):
            return self.spec.split("/")[1], None
        from steward.models.registry import resolve

        version = resolve(self.spec)
        return version.name, version.version

    def metadata(self) -> ModelMetadata:
        """The model's metadata, read without fetching or loading its files.

        Raises:
            InvalidInput: a folder that is not a bundle.
            NotFound: no such model, version, alias or run artifact.
        """
        from steward.models.bundle import MODEL_DIR
        from steward.models.package import METADATA_FILE, ModelMetadata, read_metadata

        if self.is_bundle:
            root = Path(self.spec)
            folder = root / MODEL_DIR if (root / MODEL_DIR).is_dir() else root
            if not (folder / METADATA_FILE).is_file():
                raise InvalidInput(
                    f"{root.name!r} is not a model bundle ({MODEL_DIR}/{METADATA_FILE} is "
                    f"missing); give {_FORMS} written by 'steward models bundle'."
                )
            return read_metadata(folder)
        from steward.models.fluent import materialize
        from steward.models.uri import parse_model_uri
        from steward.workspace import current_workspace

        workspace = current_workspace()
        parsed = parse_model_uri(self.spec)
        if parsed.run_id is not None:
            assert parsed.path is not None
            return materialize(workspace, parsed.run_id, parsed.path, None)[1]
        from steward.models.registry import resolve

        version = resolve(self.spec)
        if version.metadata_digest is None:
            assert version.run_id is not None
            return materialize(workspace, version.run_id, version.artifact_path, None)[1]
        return ModelMetadata.from_json(workspace.blobs.get_bytes(version.metadata_digest))

    def preflight(self, *, backend: str, trust: bool | tuple[str, ...]) -> tuple[str, int | None]:
        """Check that the model can be served as asked; return its name and version.

        Raises:
            InvalidInput: not a bundle, an unknown backend, no ONNX export.
            NotFound: no such model, version or alias.
            UnsafeModel: the model needs pickle and ``trust`` is not True (a list of
                names never covers pickle).
        """
        from steward.errors import UnsafeModel

        if backend not in ("native", "onnx"):
            raise InvalidInput(f"backend must be 'native' or 'onnx', not {backend[:40]!r}.")
        name, version = self.resolve_version()
        metadata = self.metadata()
        label = f"{name} v{version}" if version is not None else name
        if backend == "onnx" and not metadata.onnx:
            raise InvalidInput(
                f"{label} has no ONNX export; serve it with --backend native, or log it "
                "again with steward.models.log(..., onnx=True)."
            )
        if backend == "native" and metadata.needs_trust and trust is not True:
            raise UnsafeModel(
                f"{label} is stored with pickle, which runs code when loaded; serve it with "
                "--trust only if you trust where it came from."
            )
        return name, version

    def load(
        self, *, trust: bool | tuple[str, ...] = False, backend: str = "native"
    ) -> tuple[str, int | None, Any]:
        """Load the model: its name, version and ``LoadedModel`` (``trust`` as for models.load)."""
        import steward.models

        name, version = self.resolve_version()
        if self.is_bundle:
            model = steward.models.load_bundle(self.spec, trust=trust, backend=backend)
            return name, version, model
        uri = self.spec if version is None else f"models:/{name}/{version}"
        return name, version, steward.models.load(uri, trust=trust, backend=backend)


def _bundle_info(folder: Path) -> dict[str, Any]:
    import json

    from steward.models.bundle import BUNDLE_FILE

    path = folder / BUNDLE_FILE
    if path.is_file():
        try:
            loaded = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput(f"{BUNDLE_FILE} of bundle {folder.name!r} is not JSON.") from None
        return loaded if isinstance(loaded, dict) else {}
    return {}
