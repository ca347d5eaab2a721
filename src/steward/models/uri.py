"""Model URIs: ``models:/name@alias``, ``models:/name/3``, ``runs:/<run_id>/<path>``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from steward.errors import InvalidInput

_MODEL_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_MODEL_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_RUN = re.compile(r"^runs:/(?P<run_id>[^/]+)/(?P<path>.+)$")
_SHORT_ALIAS = re.compile(r"^(?P<name>[^/@:]+)@(?P<alias>[^/@]+)$")
_SHORT_VERSION = re.compile(r"^(?P<name>[^/@:]+)/(?P<version>\d+)$")


@dataclass(frozen=True)
class ModelURI:
    """A parsed model reference: exactly one of (alias), (version) or (run_id, path) is set."""

    name: str | None = None
    alias: str | None = None
    version: int | None = None
    run_id: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        if self.run_id is not None:
            return f"runs:/{self.run_id}/{self.path}"
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.version}"


def parse_model_uri(uri: str, *, allow_short: bool = False) -> ModelURI:
    """Parse a model URI.

    Args:
        uri: ``models:/name@alias``, ``models:/name/3`` or ``runs:/<run_id>/<path>``.
        allow_short: also accept ``name@alias`` and ``name/3`` (as the CLI does).

    Raises:
        InvalidInput: the text is none of these forms.
    """
    text = uri.strip()
    if match := _MODEL_ALIAS.match(text) or (allow_short and _SHORT_ALIAS.match(text)):
        return ModelURI(name=match["name"], alias=match["alias"])
    if match := _MODEL_VERSION.match(text) or (allow_short and _SHORT_VERSION.match(text)):
        return ModelURI(name=match["name"], version=int(match["version"]))
    if match := _RUN.match(text):
        return ModelURI(run_id=match["run_id"], path=match["path"].strip("/"))
    forms = "'models:/NAME@ALIAS', 'models:/NAME/VERSION' or 'runs:/RUN_ID/PATH'"
    if allow_short:
        forms += " (or NAME@ALIAS, NAME/VERSION)"
    raise InvalidInput(f"model URI {uri!r} is not understood; use {forms}.")
