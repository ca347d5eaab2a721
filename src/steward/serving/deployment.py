"""A deployment: one loaded, warmed-up model version with its own micro-batcher.

``ModelSource`` says where a model comes from (a registry URI, possibly an
alias that moves, or a bundle folder) and loads it; ``Deployment`` is what the
router sends rows to.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.serving.batching import MicroBatcher, ModelOutput
from steward.serving.validation import validate_rows

if TYPE_CHECKING:
    from steward.models.loaded import LoadedModel
    from steward.models.signature import Signature

logger = logging.getLogger("steward.serving")


@dataclass(frozen=True)
class ModelSource:
    """Where a served model comes from: ``models:/name@alias``, ``models:/name/3`` or a bundle."""

    spec: str

    @property
    def is_bundle(self) -> bool:
        """Whether the source is a bundle folder (served without a store)."""
        return not self.spec.startswith(("models:/", "runs:/"))

    @property
    def follows_alias(self) -> bool:
        """Whether the source names an alias, whose version may move."""
        return self.spec.startswith("models:/") and "@" in self.spec

    def resolve_version(self) -> tuple[str, int | None]:
        """The model name and the version the source points at now."""
        if self.is_bundle:
            info = _bundle_info(Path(self.spec))
            return str(info.get("name") or Path(self.spec).resolve().name), info.get("version")
        if self.spec.startswith("runs:/"):
            return self.spec.split("/")[1], None
        from steward.models.registry import resolve

        version = resolve(self.spec)
        return version.name, version.version

    def load(
        self, *, trust: bool | tuple[str, ...] = False, backend: str = "native"
    ) -> tuple[str, int | None, Any]:
        """Load the model: its name, version and ``LoadedModel`` (``trust`` as for models.load)."""
        import steward.models

        if self.is_bundle:
            name, version = self.resolve_version()
            return (
                name,
                version,
                steward.models.load_bundle(self.spec, trust=trust, backend=backend),
            )
        name, version = self.resolve_version()
        uri = self.spec if version is None else f"models:/{name}/{version}"
        return name, version, steward.models.load(uri, trust=trust, backend=backend)


_ARGMAX_MODULES = ("sklearn.ensemble", "sklearn.tree", "sklearn.naive_bayes", "sklearn.neighbors")


def _predict_is_argmax(native: Any) -> bool:
    """Whether ``predict`` is exactly the most probable class of ``predict_proba``.

    True for scikit-learn's trees, forests, boosting, naive Bayes and neighbours
    (alone or ending a pipeline); elsewhere (an SVC, a tuned threshold) both are called.
    """
    final = native.steps[-1][1] if hasattr(native, "steps") else native
    module = type(final).__module__
    return module.startswith(_ARGMAX_MODULES) and "Regressor" not in type(final).__name__


def _bundle_info(folder: Path) -> dict[str, Any]:
    from steward.models.bundle import BUNDLE_FILE

    path = folder / BUNDLE_FILE
    if not folder.is_dir():
        raise InvalidInput(
            f"{folder} is neither a model URI (models:/name@alias) nor a bundle folder."
        )
    if path.is_file():
        loaded = json.loads(path.read_text())
        return loaded if isinstance(loaded, dict) else {}
    return {}


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
            probabilities = np.asarray(self.model.predict_proba(rows))
            if self._predict_is_argmax and probabilities.ndim == 2:
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
