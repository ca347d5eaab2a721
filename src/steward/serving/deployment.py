"""A deployment: one loaded, warmed-up model version with its own micro-batcher.

``Deployment`` is what the router sends rows to; ``load_deployment`` makes one
from a ``ModelSource`` (``steward.serving.sources``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from steward.serving.batching import MicroBatcher, ModelOutput
from steward.serving.validation import validate_rows

if TYPE_CHECKING:
    from steward.models.loaded import LoadedModel
    from steward.models.signature import Signature
    from steward.serving.sources import ModelSource

logger = logging.getLogger("steward.serving")


_ARGMAX_MODULES = ("sklearn.ensemble", "sklearn.tree", "sklearn.naive_bayes", "sklearn.neighbors")


def _predict_is_argmax(native: Any) -> bool:
    """Whether ``predict`` is exactly the most probable class of ``predict_proba``.

    True for scikit-learn's trees, forests, boosting, naive Bayes and neighbours
    (alone or ending a pipeline); elsewhere (an SVC, a tuned threshold) both are called.
    """
    final = native.steps[-1][1] if hasattr(native, "steps") else native
    module = type(final).__module__
    return module.startswith(_ARGMAX_MODULES) and "Regressor" not in type(final).__name__


class Deployment:
    """One served model version: the loaded model, its batcher, and how to call it."""

    def __init__(
        self,
        name: str,
        version: int | None,
        model: LoadedModel,
        *,
        max_batch_rows: int = 64,
        max_wait_ms: float = 2.0,
        observe_batch: Callable[[str, int | None, int], None] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.model = model
        self.has_probabilities = hasattr(model.native, "predict_proba") and (
            model.backend != "onnx" or bool(getattr(model.native, "has_proba", False))
        )
        classes = getattr(model.native, "classes_", None)
        self.classes: list[Any] | None = None if classes is None else list(classes)
        self._predict_is_argmax = self.classes is not None and _predict_is_argmax(model.native)
        observer = None
        if observe_batch is not None:

            def observer(rows: int) -> None:
                observe_batch(name, version, rows)

        self.batcher = MicroBatcher(
            self._infer,
            max_batch_rows=max_batch_rows,
            max_wait_ms=max_wait_ms,
            observe_batch=observer,
        )

    @property
    def signature(self) -> Signature | None:
        """The model's signature."""
        return self.model.signature

    def validate(self, rows: Any, max_rows: int) -> Any:
        """A request's rows checked and shaped for this model (see ``validate_rows``)."""
        return validate_rows(self.signature, rows, max_rows, arrays=self.model.takes_arrays)

    @property
    def input_names(self) -> list[str] | None:
        """The names of the columns of the arrays this model is given (None: a tensor)."""
        signature = self.signature
        if signature is None or signature.kind != "columns":
            return None
        return signature.input_names

    @property
    def input_dtypes(self) -> list[str] | None:
        """The types of those columns, as the signature gives them."""
        signature = self.signature
        if signature is None or signature.kind != "columns":
            return None
        return [spec.dtype for spec in signature.inputs]

    @property
    def label(self) -> str:
        """``name/version`` for logs and metrics."""
        return f"{self.name}/{self.version if self.version is not None else '-'}"

    def _infer(self, rows: Any, want_probabilities: bool) -> ModelOutput:
        import numpy as np

        if want_probabilities and self.has_probabilities:
            if not self._predict_is_argmax:
                # One call where the model computes both (an ONNX classifier's graph does).
                predictions, probabilities = self.model.predict_with_proba(rows)
                return ModelOutput(np.asarray(predictions), np.asarray(probabilities))
            probabilities = np.asarray(self.model.predict_proba(rows))
            if probabilities.ndim == 2:
                assert self.classes is not None
                # A classifier's predict is the most probable class: one model call, not two.
                predictions = np.asarray(self.classes)[probabilities.argmax(axis=1)]
            else:
                predictions = np.asarray(self.model.predict(rows))
            return ModelOutput(predictions, probabilities)
        return ModelOutput(np.asarray(self.model.predict(rows)))

    def warm_up(self) -> None:
        """Run the model once on its input example, so the first request is not slow."""
        example = self.model.example_rows()
        if example is None:
            return
        try:
            self._infer(example, self.has_probabilities)
        except Exception:
            logger.warning("warm-up of %s on its input example failed", self.label, exc_info=True)


def load_deployment(
    source: ModelSource,
    *,
    trust: bool | tuple[str, ...] = False,
    backend: str = "native",
    max_batch_rows: int = 64,
    max_wait_ms: float = 2.0,
    observe_batch: Callable[[str, int | None, int], None] | None = None,
) -> Deployment:
    """Load, wrap and warm up the model a source points at."""
    name, version, model = source.load(trust=trust, backend=backend)
    deployment = Deployment(
        name,
        version,
        model,
        max_batch_rows=max_batch_rows,
        max_wait_ms=max_wait_ms,
        observe_batch=observe_batch,
    )
    deployment.warm_up()
    return deployment
