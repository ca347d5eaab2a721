"""What a server serves: one ``ModelSpec`` per model, from the command line or a models file.

Each model has a route name (``/v2/models/{name}/infer``, ``/models/{name}/predict``),
a source, an optional canary and shadow, and its own settings (batching,
logging, queue, backend) over the server's defaults. A models file is TOML,
YAML or JSON (by its suffix) of this shape::

    [defaults]                      # optional: settings for every model
    backend = "onnx"

    [[models]]
    uri = "models:/triage@champion"
    canary = "models:/triage@challenger:10"

    [[models]]
    name = "malaria"                # optional: the route name (default: the model's)
    uri = "/srv/bundles/malaria"
    max_batch_rows = 16
    trust = ["numpy.log1p"]         # types and callables it may hold (true: everything)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steward.errors import InvalidInput
from steward.serving.config import PER_MODEL, ServingConfig
from steward.serving.sources import ModelSource

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ENTRY_KEYS = frozenset({"uri", "name", "canary", "shadow"})
_MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """One served model: its route name, sources and settings."""

    name: str
    source: ModelSource
    config: ServingConfig
    canary: ModelSource | None = None
    canary_share: float = 0.0
    shadow: ModelSource | None = None

    def sources(self) -> dict[str, ModelSource]:
        """The sources by role (``primary``, ``canary``, ``shadow``)."""
        roles = {"primary": self.source, "canary": self.canary, "shadow": self.shadow}
        return {role: source for role, source in roles.items() if source is not None}


def parse_canary(spec: str) -> tuple[str, float]:
    """``models:/name@challenger:10`` → (``models:/name@challenger``, 0.10).

    Raises:
        InvalidInput: the share is missing or not a percentage in (0, 100].
    """
    uri, _, share = spec.rpartition(":")
    try:
        percent = float(share)
    except ValueError:
        raise InvalidInput(
            f"canary {spec!r} needs a share: e.g. 'models:/name@challenger:10' for 10%."
        ) from None
    if not 0 < percent <= 100 or not uri:
        raise InvalidInput(f"canary share must be a percentage in (0, 100], got {share!r}.")
    return uri, percent / 100


def check_name(name: str) -> str:
    """A route name: letters, digits, ``_ . -``, at most 128 characters.

    Raises:
        InvalidInput: the name would not fit in a URL path segment.
    """
    if not _NAME.match(name):
        raise InvalidInput(
            f"model name {name[:60]!r} cannot be a route; use letters, digits, '_', '.', '-' "
            "(set one with NAME=URI or 'name' in the models file)."
        )
    return name


def model_spec(
    reference: str,
    config: ServingConfig,
    *,
    name: str | None = None,
    canary: str | None = None,
    shadow: str | None = None,
) -> ModelSpec:
    """A spec from a reference (``NAME=URI`` sets the route name), with its sources parsed."""
    if name is None and "=" in reference:
        prefix, _, rest = reference.partition("=")
        if _NAME.match(prefix):
            name, reference = prefix, rest
    source = ModelSource.parse(reference)
    canary_source, share = None, 0.0
    if canary:
        canary_uri, share = parse_canary(canary)
        canary_source = ModelSource.parse(canary_uri)
    if name is None:
        if source.is_bundle:
            name = source.resolve_version()[0]
        else:
            from steward.models.uri import parse_model_uri

            parsed = parse_model_uri(source.spec)
            name = parsed.name or (parsed.path or "model").rsplit("/", 1)[-1]
    return ModelSpec(
        check_name(name),
        source,
        config,
        canary_source,
        share,
        ModelSource.parse(shadow) if shadow else None,
    )


def _settings(values: dict[str, Any], where: str) -> dict[str, Any]:
    fields = {field.name: field for field in dataclasses.fields(ServingConfig)}
    unknown = sorted(set(values) - PER_MODEL)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown setting(s) {unknown[:5]}; a model may set {sorted(PER_MODEL)}."
        )
    for key, value in values.items():
        if key == "trust":
            values[key] = _trust(value, where)
            continue
        expected = type(fields[key].default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if type(value) is not expected:
            raise InvalidInput(f"{where}: {key} must be a {expected.__name__}.")
    return values


def _trust(value: Any, where: str) -> bool | tuple[str, ...]:
    """``trust = true`` (everything, pickle included) or a list of dotted names."""
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(name, str) and name for name in value):
        return tuple(value)
    raise InvalidInput(
        f'{where}: trust must be true/false or a list of dotted names such as ["numpy.log1p"].'
    )


def read_models_file(path: str | Path, config: ServingConfig) -> list[ModelSpec]:
    """The specs of a models file (``.toml``, ``.yaml``/``.yml`` or ``.json``).

    Raises:
        InvalidInput: the file is missing, not parsable, or names unknown settings.
    """
    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"models file {file.name!r} does not exist.")
    if file.stat().st_size > _MAX_FILE_BYTES:
        raise InvalidInput(f"models file {file.name!r} is over 1 MB.")
    document = _parse(file)
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise InvalidInput(f"models file {file.name!r} needs a list 'models' of entries.")
    unknown = sorted(set(document) - {"models", "defaults"})
    if unknown:
        raise InvalidInput(f"models file {file.name!r}: unknown key(s) {unknown[:5]}.")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise InvalidInput(f"models file {file.name!r}: 'defaults' must be a table.")
    base = dataclasses.replace(config, **_settings(defaults, "defaults"))
    specs = []
    for index, entry in enumerate(document["models"]):
        where = f"models[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("uri"), str):
            raise InvalidInput(f"{where} needs 'uri': a model reference or a bundle folder.")
        settings = {key: value for key, value in entry.items() if key not in _ENTRY_KEYS}
        for key in ("name", "canary", "shadow"):
            if key in entry and not isinstance(entry[key], str):
                raise InvalidInput(f"{where}: {key} must be text.")
        specs.append(
            model_spec(
                entry["uri"],
                dataclasses.replace(base, **_settings(settings, where)),
                name=entry.get("name"),
                canary=entry.get("canary"),
                shadow=entry.get("shadow"),
            )
        )
    return check_unique(specs)


def check_unique(specs: Sequence[ModelSpec]) -> list[ModelSpec]:
    """The specs, refused if two share a route name or there are none.

    Raises:
        InvalidInput: no models, or a name served twice.
    """
    if not specs:
        raise InvalidInput("no model to serve; give at least one.")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise InvalidInput(
                f"two models would be served as {spec.name!r}; name one with NAME=URI "
                "(or 'name' in the models file)."
            )
        seen.add(spec.name)
    return list(specs)


def _parse(file: Path) -> Any:
    suffix = file.suffix.lower()
    text = file.read_bytes()
    try:
        if suffix == ".toml":
            import tomllib

            return tomllib.loads(text.decode())
        if suffix in (".yaml", ".yml"):
            from steward.errors import require

            yaml: Any = require("yaml", "serve", "Reading a YAML models file")
            return yaml.safe_load(text)
        if suffix == ".json":
            import json

            return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"models file {file.name!r} is not valid {suffix[1:]}: {exc}") from None
    except Exception as exc:  # yaml's own errors
        if type(exc).__module__.startswith("yaml"):
            raise InvalidInput(f"models file {file.name!r} is not valid YAML.") from None
        raise
    raise InvalidInput(f"models file {file.name!r}: use a .toml, .yaml, .yml or .json file.")
