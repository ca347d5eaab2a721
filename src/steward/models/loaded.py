"""A loaded model: the native object behind a ``predict`` that enforces the signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steward.errors import InvalidInput
from steward.models.package import ModelMetadata
from steward.models.signature import Signature, enforce, example_from_json, example_rows


class LoadedModel:
    """A model ready to predict; inputs are checked against its signature first.

    ``predict`` accepts a DataFrame, a dict (one row, or columns of lists), a
    list of records or a numpy array.
    """

    def __init__(
        self,
        native: Any,
        metadata: ModelMetadata,
        source: str,
        folder: Path,
        backend: str = "native",
    ) -> None:
        self.native = native
        self.metadata = metadata
        self.source = source
        self.folder = folder
        self.backend = backend
        self.takes_arrays = backend == "onnx" or (
            metadata.flavor == "sklearn" and not metadata.flavor_info.get("fitted_on_frame", False)
        )
        """The model is given plain arrays (columns in the signature's order), not DataFrames."""

    @property
    def signature(self) -> Signature | None:
        """The model's signature (None if it was logged without one)."""
        return self.metadata.signature

    @property
    def flavor(self) -> str:
        """The flavor the model was stored with."""
        return self.metadata.flavor

    @property
    def input_example(self) -> Any:
        """The stored input example (a DataFrame or array), or None."""
        example = self.metadata.input_example
        return example_from_json(example) if example else None

    def example_rows(self) -> Any:
        """The input example as the model is given it, or None.

        For a model that takes arrays, an example of numbers only comes as that
        array (so a server warming up on it never needs pandas).
        """
        example = self.metadata.input_example
        signature = self.signature
        if example and self.takes_arrays and signature is not None:
            rows = example_rows(example, signature)
            if rows is not None:
                return rows
        return self.input_example

    def _prepare(self, data: Any) -> Any:
        signature = self.signature
        prepared = data if signature is None else enforce(signature, data, arrays=self.takes_arrays)
        if self.takes_arrays and hasattr(prepared, "to_numpy"):
            return prepared.to_numpy()
        return prepared

    def predict(self, data: Any) -> Any:
        """Predictions for ``data``.

        Raises:
            InvalidInput: ``data`` does not match the signature.
        """
        return self.native.predict(self._prepare(data))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, where the flavor has them.

        Raises:
            InvalidInput: the model has no ``predict_proba`` or ``data`` does not match.
        """
        method = getattr(self.native, "predict_proba", None)
        if method is None or (self.backend == "onnx" and not self.native.has_proba):
            raise InvalidInput(f"this {self.flavor} model has no predict_proba.")
        return method(self._prepare(data))

    def predict_with_proba(self, data: Any) -> tuple[Any, Any]:
        """Predictions and class probabilities, from one model call where the backend allows.

        An ONNX classifier's graph computes both in one run; other models are
        called once for each (on the input checked once).

        Raises:
            InvalidInput: the model has no ``predict_proba`` or ``data`` does not match.
        """
        method = getattr(self.native, "predict_proba", None)
        if method is None or (self.backend == "onnx" and not self.native.has_proba):
            raise InvalidInput(f"this {self.flavor} model has no predict_proba.")
        prepared = self._prepare(data)
        if self.backend == "onnx":
            return self.native.predict_with_proba(prepared)
        return self.native.predict(prepared), method(prepared)

    def __repr__(self) -> str:
        return f"<LoadedModel {self.source} flavor={self.flavor} backend={self.backend}>"
