"""Built-in pipelines: ``retrain``, the common case of the closed loop with no pipeline code.

``steward.pipelines.retrain(model="NAME", data="DATASET@ALIAS")`` takes the
champion's estimator (its class and parameters, as logged in its run), fits a
fresh one on the new data version, evaluates it on a held-out split, registers
it, gates it against the champion on that split, and promotes it as the
model's policy says. It is a pipeline like any other: recorded as a run with
a step per stage, triggerable by the agent (``steward.pipelines.recipes:retrain``).
A stage that fails is recorded, leaves the champion as it was and alerts the
policy's channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.pipelines.definition import pipeline
from steward.pipelines.steps import step

if TYPE_CHECKING:
    import pandas as pd

    from steward.data.versions import DatasetVersion
    from steward.models.loaded import LoadedModel

_EVALUATED = {"classifier": ("accuracy", "f1", "roc_auc"), "regressor": ("r2", "mae", "rmse")}


@contextmanager
def _alerting(model: str, stage: str) -> Iterator[None]:
    """Tell the policy's channels when a stage fails (the failure still propagates)."""
    from steward.models.policy import notify
    from steward.workspace import current_workspace

    try:
        yield
    except Exception as exc:
        previous = current_workspace().store.monitoring.open_alert(f"model:{model}", "retrain")
        failures = 1 + (int(previous.value or 0) if previous is not None else 0)
        notify(
            model,
            "retrain",
            failures,
            f"retraining {model} failed while {stage}: {exc}. The champion is unchanged.",
        )
        raise


def _champion(model: str) -> tuple[str, LoadedModel]:
    """The champion's ``name/version`` and the loaded model, refused unless the recipe can
    refit it."""
    from steward.models.fluent import load
    from steward.models.registry import resolve

    version = resolve(f"models:/{model}@champion")
    champion = load(version.uri)
    if champion.flavor != "sklearn" or not hasattr(champion.native, "get_params"):
        raise InvalidInput(
            f"the retrain recipe refits scikit-learn estimators; {model}@champion is a "
            f"{champion.flavor} model. Write a pipeline for it (see docs/pipelines.md)."
        )
    if champion.signature is None or champion.signature.kind != "columns":
        raise InvalidInput(
            f"{model}@champion has no column signature, so the recipe cannot tell its "
            "features from the label; log it with input_example= (a DataFrame)."
        )
    return f"{model}/{version.version}", champion


def _frame(data: str) -> tuple[pd.DataFrame, DatasetVersion]:
    from steward.data.versions import resolve

    version = resolve(data)
    return version.to_pandas(), version


def _label(frame: pd.DataFrame, features: list[str], target: str) -> str:
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise InvalidInput(f"the new data lacks the champion's input column(s) {missing[:10]}.")
    if target:
        if target not in frame.columns:
            raise InvalidInput(f"the new data has no label column {target!r}.")
        return target
    left = [str(c) for c in frame.columns if c not in features]
    if len(left) != 1:
        raise InvalidInput(
            f"name the label column: target=… (columns that are not model inputs: {left[:20]})."
        )
    return left[0]


def _split(
    frame: pd.DataFrame, label: str, holdout: float, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and held-out rows; the same for the same data, share and seed."""
    from sklearn.model_selection import train_test_split

    if not 0 < holdout < 1:
        raise InvalidInput(f"holdout must be a share between 0 and 1, not {holdout!r}.")
    labels = frame[label] if stratify and frame[label].value_counts().min() >= 2 else None
    train, held_out = train_test_split(frame, test_size=holdout, random_state=seed, stratify=labels)
    return train, held_out


def _kind(estimator: Any) -> str:
    return "classifier" if hasattr(estimator, "classes_") else "regressor"


@step(cache=False)
def train_challenger(
    model: str, data: str, target: str, holdout: float, seed: int
) -> dict[str, Any]:
    """Fit the champion's estimator afresh on the new data, evaluate it on the held-out
    split and register it as the model's next version."""
    from sklearn.base import clone

    import steward
    from steward.checks.metrics import metric

    with _alerting(model, "training"):
        source, champion = _champion(model)
        assert champion.signature is not None
        features = champion.signature.input_names
        frame, version = _frame(data)
        label = _label(frame, features, target)
        kind = _kind(champion.native)
        train, held_out = _split(frame, label, holdout, seed, kind == "classifier")
        estimator = clone(champion.native)
        steward.data.use(version)
        steward.log_params(
            {
                "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
                "retrained_from": source,
                "data": version.ref,
                "holdout": holdout,
                "seed": seed,
                **{
                    f"model.{key}": value
                    for key, value in estimator.get_params().items()
                    if not hasattr(value, "fit")
                },
            }
        )
        estimator.fit(train[features], train[label])
        truth = held_out[label].to_numpy()
        scores: dict[str, float] = {}
        for name in _EVALUATED[kind]:
            chosen = metric(name)
            if chosen.uses_scores:
                if not hasattr(estimator, "predict_proba") or len(estimator.classes_) != 2:
                    continue
                predicted = estimator.predict_proba(held_out[features])[:, 1]
            else:
                predicted = estimator.predict(held_out[features])
            scores[f"holdout_{name}"] = chosen.compute(truth, predicted)
        steward.log_metrics(scores)
        info = steward.models.log(
            estimator,
            "model",
            input_example=train[features].head(5),
            register=model,
            description=f"retrained on {version.ref} by steward.pipelines.retrain",
        )
    assert info.version is not None
    return {
        "version": info.version.version,
        "data": version.ref,
        "label": label,
        "metrics": scores,
    }


@step(cache=False)
def gate_challenger(
    model: str, trained: dict[str, Any], holdout: float, seed: int, metric: str, min_delta: float
) -> dict[str, Any]:
    """Gate the new version against the champion on the held-out split of the new data."""
    from steward.checks.model_checks import MinImprovement
    from steward.models.gate import gate

    with _alerting(model, "gating"):
        frame, _ = _frame(trained["data"])
        label = trained["label"]
        _, champion = _champion(model)
        kind = _kind(champion.native)
        _, held_out = _split(frame, label, holdout, seed, kind == "classifier")
        chosen = metric or ("accuracy" if kind == "classifier" else "r2")
        result = gate(
            f"{model}/{trained['version']}",
            f"{model}@champion",
            data=held_out,
            checks=[MinImprovement(chosen, min_delta=min_delta)],
            target=label,
            seed=seed,
        )
    assert result.record is not None
    return {
        "version": trained["version"],
        "gate": result.record.id,
        "passed": result.passed,
        "summary": result.summary(),
        "results": [r.to_dict() for r in result.results],
    }


@step(cache=False)
def promote_challenger(model: str, gated: dict[str, Any]) -> dict[str, Any]:
    """Promote, hold for approval or reject the challenger as the model's policy says."""
    from steward.checks.stored import as_results
    from steward.models.gate import GateResult
    from steward.models.policy import apply_policy, promotion_store, settle
    from steward.models.registry import get_version, resolve
    from steward.workspace import current_workspace

    with _alerting(model, "promoting"):
        record = promotion_store().gates(gate_id=gated["gate"])[0]
        checks = current_workspace().store.governance.check_runs(run_id=record.check_run_id)[0]
        result = GateResult(
            get_version(model, gated["version"]),
            resolve(f"models:/{record.champion}"),
            record.passed,
            tuple(as_results(checks)),
            checks.dataset,
            record,
        )
        promotion = apply_policy(result)
        settle(model, "retrain", f"retraining {model} completed: {promotion.message}")
    return {
        "version": promotion.version,
        "decision": promotion.decision,
        "aliases": list(promotion.aliases),
        "gate": promotion.gate,
        "message": promotion.message,
    }


@pipeline
def retrain(
    model: str,
    data: str,
    target: str = "",
    holdout: float = 0.25,
    seed: int = 0,
    metric: str = "",
    min_delta: float = -0.01,
) -> Any:
    """Retrain ``model``'s champion on the dataset version ``data`` (``name@alias``,
    ``name:3`` or ``name``), gate the result against the champion and promote it by policy.

    Args:
        model: the registered model; its ``champion`` alias names the estimator to refit.
        data: the new data: the champion's input columns and the label.
        target: the label column (default: the one column that is not a model input).
        holdout: the share of rows held out for evaluation and the gate.
        seed: seed of the split and the gate's bootstrap.
        metric: the gate's metric (default: accuracy for classifiers, R² for regressors).
        min_delta: how much the challenger must beat the champion by on ``metric``
            (negative: how much worse it may be), by the bootstrap's lower bound.
    """
    trained = train_challenger(model, data, target, holdout, seed)
    gated = gate_challenger(model, trained, holdout, seed, metric, min_delta)
    return promote_challenger(model, gated)
