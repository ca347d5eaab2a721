"""``steward.pipelines.retrain``: the champion's estimator refitted on new data, gated and
promoted by policy, with no pipeline code; a failure leaves the champion and alerts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import steward
from steward import models
from steward.errors import PipelineFailed
from tests.models.promotion_helpers import FEATURES, local_workspace
from tests.services import Receiver

__all__ = ["local_workspace"]


def _readings(relation: str, rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    sign = 1 if relation == "sum" else -1
    frame["label"] = (frame["age"] + sign * frame["dose"] > 0).astype(int)
    return frame


def _champion(receiver: Receiver | None = None, promote: str = "auto") -> Any:
    """A logistic regression (C=0.5) on the first readings, champion of ``clf``."""
    from sklearn.linear_model import LogisticRegression

    first = steward.data.add("readings", _readings("sum"))
    frame = first.to_pandas()
    with steward.start_run():
        steward.data.use(first)
        model = LogisticRegression(C=0.5).fit(frame[FEATURES], frame["label"])
        info = steward.models.log(model, input_example=frame[FEATURES].head(5), register="clf")
    assert info.version is not None
    models.set_alias("clf", "champion", info.version.version)
    channels = [f"webhook:{receiver.url}"] if receiver is not None else None
    models.set_policy("clf", promote=promote, channels=channels)
    return info.version


def test_retrain_refits_the_champions_estimator_gates_and_promotes(
    local_workspace: Any, receiver: Receiver
) -> None:
    _champion(receiver)
    shifted = steward.data.add("readings", _readings("difference", seed=1))
    steward.data.set_alias("readings", "current", shifted.version)

    record = steward.pipelines.retrain(model="clf", data="readings@current")

    assert record.status == steward.RunStatus.FINISHED
    assert [s.name for s in record.steps] == [
        "train_challenger",
        "gate_challenger",
        "promote_challenger",
    ]
    outcome = steward.pipelines.load(record)
    assert outcome["decision"] == "promoted" and outcome["version"] == 2
    champion = models.resolve("models:/clf@champion")
    assert champion.version == 2
    assert champion.metrics["holdout_accuracy"] > 0.9
    run = steward.get_run(champion.run_id)
    assert run.params["model.C"] == "0.5"
    assert run.params["estimator"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.params["retrained_from"] == "clf/1" and run.params["data"] == shifted.ref
    readers = {e.run_id for e in shifted.lineage() if e.direction == "input"}
    assert champion.run_id in readers
    gates = local_workspace.store.promotion.gates(model=("clf", 2))
    assert gates[0].passed and gates[0].decision == "promoted"
    history = steward.checks.check_history(model="clf/2")
    assert history[0].suite == "gate" and history[0].dataset is None
    assert receiver.bodies == []  # nothing failed, nobody needed to approve


def test_a_failing_retrain_is_recorded_keeps_the_champion_and_alerts(
    workspace: Any, receiver: Receiver
) -> None:
    first = _champion(receiver)
    broken = steward.data.add("readings", _readings("sum", seed=2).drop(columns=["dose"]))

    with pytest.raises(PipelineFailed) as caught:
        steward.pipelines.retrain(model="clf", data=broken.ref)

    failed = caught.value.run
    assert failed.status == steward.RunStatus.FAILED
    assert "input column(s) ['dose']" in (failed.step("train_challenger").error or "")
    assert steward.pipelines.get_run(failed.id).status == steward.RunStatus.FAILED
    assert models.resolve("models:/clf@champion").version == first.version
    assert [v.version for v in models.list_versions("clf")] == [first.version]
    assert [(b["event"], b["rule"]) for b in receiver.bodies] == [("fired", "retrain")]
    assert "failed while training" in receiver.bodies[0]["message"]
    assert "champion is unchanged" in receiver.bodies[0]["message"]

    # The next retrain that completes resolves the alert, even when its challenger is
    # turned down by the gate (then that is announced instead).
    steward.pipelines.retrain(model="clf", data="readings:1", metric="accuracy", min_delta=0.5)
    assert models.resolve("models:/clf@champion").version == first.version
    assert models.get_version("clf", 2).status is models.VersionStatus.REJECTED
    assert [(b["event"], b["rule"]) for b in receiver.bodies] == [
        ("fired", "retrain"),
        ("fired", "gate"),
        ("resolved", "retrain"),
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model": "nope", "data": "readings"}, "no registered model named 'nope'"),
        ({"model": "clf", "data": "missing@current"}, "missing"),
        ({"model": "clf", "data": "readings", "holdout": 1.5}, "holdout must be a share"),
        ({"model": "clf", "data": "readings", "target": "nope"}, "no label column 'nope'"),
        ({"model": "clf", "data": "readings", "metric": "speed"}, "speed"),
    ],
)
def test_retrain_bad_input_fails_cleanly(
    workspace: Any, params: dict[str, Any], message: str
) -> None:
    first = _champion()
    with pytest.raises(PipelineFailed) as caught:
        steward.pipelines.retrain(**params)
    errors = " ".join(step.error or "" for step in caught.value.run.steps)
    assert message in errors
    assert models.resolve("models:/clf@champion").version == first.version


def test_retrain_from_the_command_line(workspace: Any, steward_cli: Any) -> None:
    _champion()
    steward.data.add("readings", _readings("difference", seed=1))
    target = "steward.pipelines.recipes:retrain"

    code, _, err = steward_cli("pipeline", "run", target, "-p", "model=clf")
    assert code == 1 and "needs parameter 'data'" in err
    code, _, err = steward_cli(
        "pipeline", "run", target, "-p", "model=clf", "-p", "data=readings", "-p", "seed=x"
    )
    assert code == 1 and "parameter 'seed'" in err and "must be int" in err
    assert models.list_versions("clf")[0].version == 1  # nothing ran
    code, out, err = steward_cli(
        "pipeline", "run", target, "-p", "model=clf", "-p", "data=readings", "--json"
    )
    assert code == 0, err
    assert '"status": "FINISHED"' in out
    assert models.resolve("models:/clf@champion").version == 2
