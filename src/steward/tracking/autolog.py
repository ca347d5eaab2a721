"""Automatic logging of scikit-learn training: ``steward.autolog()``.

Every estimator's ``fit`` is wrapped. The outermost ``fit`` (a Pipeline or a
search, not each step inside it) logs the estimator's params, training
metrics and the fitted model (skops, a safe format) to the active run, or to
a run of its own when none is active.
"""

from __future__ import annotations

import functools
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

from steward.store.records import RunStatus

_state = threading.local()
_patched: dict[type, Any] = {}
_settings = {"log_models": True}


def _flatten_params(params: dict[str, Any]) -> dict[str, str]:
    flat = {}
    for key, value in params.items():
        text = repr(value) if hasattr(value, "get_params") else str(value)
        flat[key] = text[:500]
    return flat


def _training_metrics(estimator: Any, X: Any, y: Any) -> dict[str, float]:
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    if y is None:
        return {}
    prediction = estimator.predict(X)
    if is_classifier(estimator):
        result = {
            "training_accuracy": metrics.accuracy_score(y, prediction),
            "training_precision": metrics.precision_score(
                y, prediction, average="weighted", zero_division=0
            ),
            "training_recall": metrics.recall_score(
                y, prediction, average="weighted", zero_division=0
            ),
            "training_f1": metrics.f1_score(y, prediction, average="weighted", zero_division=0),
        }
        if hasattr(estimator, "predict_proba"):
            probabilities = estimator.predict_proba(X)
            result["training_log_loss"] = metrics.log_loss(
                y, probabilities, labels=estimator.classes_
            )
            if probabilities.shape[1] == 2:
                result["training_roc_auc"] = metrics.roc_auc_score(y, probabilities[:, 1])
            else:
                result["training_roc_auc"] = metrics.roc_auc_score(
                    y, probabilities, multi_class="ovr", labels=estimator.classes_
                )
        return result
    if is_regressor(estimator):
        mse = metrics.mean_squared_error(y, prediction)
        return {
            "training_mae": metrics.mean_absolute_error(y, prediction),
            "training_mse": mse,
            "training_rmse": mse**0.5,
            "training_r2": metrics.r2_score(y, prediction),
        }
    return {}


def _log_model(run: Any, estimator: Any) -> None:
    import skops.io

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.skops"
        skops.io.dump(estimator, path)
        run.log_artifact(path, "model/model.skops")


def _log_fit(run: Any, estimator: Any, X: Any, y: Any) -> None:
    run.log_params(_flatten_params(estimator.get_params(deep=True)))
    run.set_tags(
        {
            "estimator_name": type(estimator).__name__,
            "estimator_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        }
    )
    try:
        run.log_metrics(_training_metrics(estimator, X, y))
    except Exception as exc:  # a metric that does not apply must not break training
        warnings.warn(f"steward.autolog: training metrics skipped: {exc}", stacklevel=3)
    if _settings["log_models"]:
        _log_model(run, estimator)


def _wrap(original: Any) -> Any:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "depth", 0) > 0:
            return original(self, *args, **kwargs)
        from steward.tracking import fluent

        _state.depth = 1
        try:
            run = fluent.active_run()
            own_run = run is None
            if run is None:
                run = fluent.start_run(name=type(self).__name__)
            try:
                result = original(self, *args, **kwargs)
            except BaseException:
                if own_run:
                    run.end(RunStatus.FAILED)
                raise
            X = args[0] if args else kwargs.get("X")
            y = args[1] if len(args) > 1 else kwargs.get("y")
            _log_fit(run, self, X, y)
            if own_run:
                run.end(RunStatus.FINISHED)
            return result
        finally:
            _state.depth = 0

    fit.__steward_autolog__ = True  # type: ignore[attr-defined]
    return fit


def autolog(disable: bool = False, log_models: bool = True) -> None:
    """Log every scikit-learn ``fit`` automatically.

    Args:
        disable: undo a previous ``autolog()``.
        log_models: also store each fitted model as a skops artifact.
    """
    from sklearn.utils import all_estimators

    _settings["log_models"] = log_models
    if disable:
        for cls, original in _patched.items():
            cls.fit = original  # type: ignore[attr-defined]
        _patched.clear()
        return
    from sklearn.pipeline import Pipeline

    classes = [cls for _, cls in all_estimators()] + [Pipeline]
    # Patch the class that defines ``fit`` (often an abstract base such as
    # BaseForest), so every estimator inheriting it is covered once.
    owners = {
        next(owner for owner in cls.__mro__ if "fit" in owner.__dict__)
        for cls in classes
        if hasattr(cls, "fit")
    }
    for owner in owners:
        original = owner.__dict__["fit"]
        if owner in _patched or getattr(original, "__steward_autolog__", False):
            continue
        _patched[owner] = original
        owner.fit = _wrap(original)
