"""``steward.gate``: test a challenger against the champion before it is promoted.

Both models are evaluated on the same held-out data with governance's checks
(model checks, data suites, fairness thresholds). Each result is kept on the
challenger version, with the champion's figure for the same check beside it,
so ``steward models show`` and the model card show why a model was (or was
not) promoted. What the verdict leads to is the promotion policy's business
(``steward.models.policy``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from steward.checks.result import Check, CheckGroup, CheckResult
    from steward.models.loaded import LoadedModel
    from steward.models.signature import Signature
    from steward.store.promotion import GateRecord
    from steward.store.registry import ModelVersion

DEFAULT_TOLERANCE = 0.01
"""How much worse than the champion the default gate lets a challenger be (bootstrap bound)."""


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict on a challenger.

    Attributes:
        challenger: the version tested.
        champion: the version it was compared with.
        passed: whether every check of severity ``error`` held.
        results: one per check, the champion's figure in ``details["champion_value"]``
            where the check measures one model (comparisons hold both).
        dataset: the held-out dataset version (``name:3``), if the data was one.
        record: the stored verdict (None when not saved).
    """

    challenger: ModelVersion
    champion: ModelVersion
    passed: bool
    results: tuple[CheckResult, ...]
    dataset: str | None = None
    record: GateRecord | None = None

    @property
    def failed(self) -> list[CheckResult]:
        """The checks that did not hold (warnings included)."""
        return [result for result in self.results if not result.passed]

    def summary(self) -> str:
        """One line: ``models:/m/2 passed the gate against models:/m/1 (3 checks)``."""
        verdict = "passed" if self.passed else "failed"
        failing = "" if self.passed else f"; failing: {', '.join(r.name for r in self.failed)}"
        return (
            f"{self.challenger.uri} {verdict} the gate against {self.champion.uri} "
            f"({len(self.results)} checks{failing})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "challenger": self.challenger.uri,
            "champion": self.champion.uri,
            "passed": self.passed,
            "dataset": self.dataset,
            "gate": None if self.record is None else self.record.id,
            "results": [result.to_dict() for result in self.results],
        }


def _version(reference: Any, role: str) -> ModelVersion:
    """A registered version from ``models:/m/2``, ``m/2``, ``m@alias`` or a ModelVersion."""
    from steward.models.registry import resolve
    from steward.store.registry import ModelVersion

    if isinstance(reference, ModelVersion):
        return reference
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidInput(
            f"the {role} must be a registered version ('models:/NAME/2', 'NAME/2' or "
            f"'NAME@ALIAS'), not {reference!r}."
        )
    text = reference.strip()
    return resolve(text if text.startswith("models:/") else f"models:/{text}")


def _signature(version: ModelVersion) -> Signature | None:
    from steward.models.package import ModelMetadata
    from steward.workspace import current_workspace

    data = current_workspace().blobs.get_bytes(version.metadata_digest)
    return ModelMetadata.from_json(data).signature


def check_same_inputs(challenger: ModelVersion, champion: ModelVersion) -> None:
    """Refuse to compare models that take different inputs.

    Raises:
        InvalidInput: the signatures differ (the message names the columns), or one
            model has a signature and the other none.
    """
    mine, theirs = _signature(challenger), _signature(champion)
    if mine is None and theirs is None:
        return
    if mine is None or theirs is None:
        lacking = challenger if mine is None else champion
        raise InvalidInput(
            f"{lacking.uri} was logged without a signature, so the gate cannot tell whether "
            f"{challenger.uri} and {champion.uri} take the same inputs; log it with "
            "input_example= (or signature=)."
        )
    if mine.inputs == theirs.inputs and mine.kind == theirs.kind:
        return
    ours = {spec.name: spec.dtype for spec in mine.inputs}
    other = {spec.name: spec.dtype for spec in theirs.inputs}
    problems = []
    if only := sorted(str(name) for name in set(ours) - set(other)):
        problems.append(f"only the challenger takes {only[:10]}")
    if only := sorted(str(name) for name in set(other) - set(ours)):
        problems.append(f"only the champion takes {only[:10]}")
    changed = sorted(
        f"{name} ({other[name]} → {ours[name]})"
        for name in set(ours) & set(other)
        if ours[name] != other[name]
    )
    if changed:
        problems.append(f"dtypes differ: {changed[:10]}")
    if not problems:
        problems.append("the inputs are in a different order or of another kind")
    raise InvalidInput(
        f"the challenger {challenger.uri} and the champion {champion.uri} have different "
        f"signatures: {'; '.join(problems)}. The gate compares models on the same inputs; "
        "retrain the challenger on the champion's features."
    )


def _target(frame: pd.DataFrame, model: LoadedModel, exclude: Sequence[str]) -> str:
    signature = model.signature
    inputs = set(signature.input_names) if signature is not None else set()
    left = [c for c in frame.columns if c not in inputs and c not in exclude]
    if len(left) == 1:
        return str(left[0])
    raise InvalidInput(
        "name the label column of the held-out data: target=… (candidates: "
        f"{[str(c) for c in left][:20] or 'none: every column is a model input'})."
    )


def default_checks(model: LoadedModel) -> list[Check]:
    """The gate when none is given: the challenger is not worse than the champion on
    accuracy (classifiers) or R² (regressors) by more than ``DEFAULT_TOLERANCE``,
    judged by the lower end of a paired-bootstrap interval."""
    from steward.checks.model_checks import MinImprovement

    native = getattr(model, "native", model)
    classifier = hasattr(native, "classes_") or hasattr(native, "predict_proba")
    return [MinImprovement("accuracy" if classifier else "r2", min_delta=-DEFAULT_TOLERANCE)]


def _with_champion_figure(result: CheckResult, champion: CheckResult) -> CheckResult:
    details = {
        **result.details,
        "champion_value": champion.value,
        "champion_passed": champion.passed,
    }
    return dataclasses.replace(result, details=details)


def evaluate(
    checks: Sequence[Check | CheckGroup],
    frame: pd.DataFrame,
    target: str,
    challenger: Any,
    champion: Any,
    *,
    exclude: Sequence[str] = (),
    dataset: Any = None,
    seed: int = 0,
) -> list[CheckResult]:
    """Run each check on the challenger, and each single-model check on the champion too
    (its figure goes in the result's details); data suites run once on the data."""
    from steward.checks.result import CheckContext, CheckGroup, check_results

    def context(model: Any, other: Any) -> CheckContext:
        return CheckContext(
            data=frame,
            target=target,
            model=model,
            champion=other,
            exclude=exclude,
            dataset=dataset,
            seed=seed,
        )

    mine, theirs = context(challenger, champion), context(champion, challenger)
    results: list[CheckResult] = []
    for check in checks:
        found = check_results(check, mine)
        # A data suite judges the data and a comparison both models; the rest run on the
        # champion too, so its figure stands beside the challenger's.
        if not isinstance(check, CheckGroup) and not getattr(check, "compares_champion", False):
            found = [_with_champion_figure(found[0], check.run(theirs))]
        results.extend(found)
    return results


def gate(
    challenger: Any,
    champion: Any = None,
    *,
    data: Any,
    checks: Sequence[Check | CheckGroup] | None = None,
    target: str | None = None,
    exclude: Sequence[str] = (),
    seed: int = 0,
    trust: Any = False,
    save: bool = True,
) -> GateResult:
    """Test a challenger against the champion on the same held-out data.

    Args:
        challenger: the version under test (``models:/NAME/2``, ``NAME/2``, ``NAME@ALIAS``
            or a ``ModelVersion``).
        champion: the version it must beat (default: ``NAME@champion`` of the challenger).
        data: held-out rows with the label: a DataFrame or a dataset version (``name:3``,
            ``name@alias``).
        checks: model checks, data suites and fairness thresholds from ``steward.checks``
            (default: ``default_checks``: not worse than the champion).
        target: the label column (default: the one column that is not a model input).
        exclude: columns never given to the models (ids, sensitive attributes).
        seed: seed of every random draw (bootstraps).
        trust: what loading the models may trust, as for ``steward.models.load``.
        save: store the verdict and every result with the challenger version.

    Returns:
        The verdict, one result per check, and the stored record.

    Raises:
        InvalidInput: the models take different inputs, the data lacks the label or an
            input column, or a check is not one.
        NotFound: no such version, alias or dataset version.
    """
    from steward.checks.stored import as_frame
    from steward.models.fluent import load
    from steward.models.policy import promotion_store
    from steward.store.governance import StoredCheckResult
    from steward.workspace import current_workspace

    store = promotion_store() if save else None  # refuse before any work, not after it
    mine = _version(challenger, "challenger")
    theirs = _version(champion if champion is not None else f"{mine.name}@champion", "champion")
    if (mine.name, mine.version) == (theirs.name, theirs.version):
        raise InvalidInput(f"{mine.uri} is the champion itself; gate a different version.")
    check_same_inputs(mine, theirs)
    frame, dataset = as_frame(data)
    if frame.empty:
        raise InvalidInput("the held-out data has no rows; the gate needs rows with labels.")
    loaded, champion_model = load(mine.uri, trust=trust), load(theirs.uri, trust=trust)
    label = target or _target(frame, loaded, exclude)
    if label not in frame.columns:
        raise InvalidInput(
            f"the held-out data has no label column {label!r}; its columns: "
            f"{[str(c) for c in frame.columns][:20]}."
        )
    chosen = list(checks) if checks is not None else default_checks(loaded)
    if not chosen:
        raise InvalidInput("a gate with no checks passes anything; give at least one check.")
    results = evaluate(
        chosen,
        frame,
        label,
        loaded,
        champion_model,
        exclude=exclude,
        dataset=dataset,
        seed=seed,
    )
    passed = all(result.passed for result in results if result.severity == "error")
    record = None
    if store is not None:
        workspace = current_workspace()
        record = store.record_gate(
            (mine.name, mine.version),
            (theirs.name, theirs.version),
            [
                StoredCheckResult(
                    r.name, r.kind, r.severity, r.passed, r.value, r.threshold, dict(r.details)
                )
                for r in results
            ],
            workspace.actor,
            dataset=None if dataset is None else (dataset.id, dataset.ref),
        )
    return GateResult(
        mine,
        theirs,
        passed,
        tuple(results),
        None if dataset is None else dataset.ref,
        record,
    )
