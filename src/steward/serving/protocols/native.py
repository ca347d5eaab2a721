"""Steward's own protocol: ``POST /predict``.

Request: ``{"inputs": [{column: value}, …]}`` (records) or
``{"columns": {column: [values…]}}``, optionally ``"entity_ids": [...]`` (one
per row, for sticky canary routing). Reply: predictions, probabilities where
the model has them, the model name and version, and a request id per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.serving.protocols import (
    ParsedInput,
    columns_frame,
    entity_ids_from,
    json_values,
    records_frame,
    require_object,
)

if TYPE_CHECKING:
    from steward.serving.routing import PredictionResult

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "inputs": {
            "type": "array",
            "items": {"type": "object"},
            "description": "Rows as objects of column: value.",
        },
        "columns": {
            "type": "object",
            "additionalProperties": {"type": "array"},
            "description": "Column-oriented input: column name to its list of values.",
        },
        "entity_ids": {
            "type": "array",
            "items": {"type": "string"},
            "description": "One id per row; canary routing is sticky per entity id.",
        },
    },
}


def parse(payload: Any, entity_header: str | None) -> ParsedInput:
    """Rows and entity ids from a ``/predict`` body."""
    body = require_object(payload, "with 'inputs' (a list of rows) or 'columns'")
    has_inputs, has_columns = "inputs" in body, "columns" in body
    if has_inputs == has_columns:
        raise InvalidInput(
            "send exactly one of 'inputs' (a list of row objects) or 'columns' "
            "(an object of column: list of values)."
        )
    unknown = sorted(set(body) - {"inputs", "columns", "entity_ids", "params"})
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {unknown[:5]}; /predict reads 'inputs' or 'columns', "
            "and optionally 'entity_ids'."
        )
    if has_inputs:
        frame = records_frame(body["inputs"], "inputs")
    else:
        frame = columns_frame(body["columns"], "columns")
    return ParsedInput(frame, entity_ids_from(body.get("entity_ids"), len(frame), entity_header))


def format_reply(result: PredictionResult) -> dict[str, Any]:
    """The ``/predict`` reply."""
    versions = result.versions
    reply: dict[str, Any] = {
        "model": result.model,
        "version": versions[0] if len(set(versions)) == 1 else None,
        "predictions": json_values(result.predictions),
        "request_ids": result.request_ids,
        "versions": versions,
    }
    if result.probabilities is not None:
        reply["probabilities"] = json_values(result.probabilities)
        reply["classes"] = result.classes
    return reply
