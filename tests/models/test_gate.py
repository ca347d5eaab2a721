"""``steward.gate``: a challenger against the champion on the same held-out data, each
result kept on the challenger version and shown by ``models show`` and the card."""

from __future__ import annotations

from typing import Any

import pytest

import steward
from steward import checks, models
from tests.models.promotion_helpers import FEATURES, labelled, local_workspace, register

__all__ = ["local_workspace"]


def _gate_checks() -> list[Any]:
    return [
        checks.Suite("held-out", [checks.Column("age", dtype="float", nullable=False)]),
        checks.MetricThreshold("accuracy", min=0.8),
        checks.MinImprovement("accuracy", min_delta=0.05, resamples=200),
        checks.FairnessThreshold("demographic_parity_difference", ["site"], max=0.3),
    ]


def test_gate_stores_each_result_with_the_champions_figure(
    local_workspace: Any, steward_cli: Any
) -> None:
    champion = register(noise=0.35)
    models.set_alias("clf", "champion", champion.version)
    challenger = register(seed=1)
    held_out = steward.data.add("held-out", labelled(rows=300, seed=7))

    result = steward.gate(
        f"clf/{challenger.version}", data=held_out.ref,
        checks=_gate_checks(), target="label", exclude=["site"], seed=3,
    )  # fmt: skip

    assert result.passed, result.summary()
    assert result.champion.version == champion.version
    by_name = {r.name: r for r in result.results}
    assert set(by_name) >= {"accuracy >= 0.8", "accuracy improves on champion by >= 0.05"}
    accuracy = by_name["accuracy >= 0.8"]
    assert accuracy.value is not None and accuracy.value > 0.9
    assert accuracy.details["champion_value"] < accuracy.value  # the noisy champion is worse
    improvement = by_name["accuracy improves on champion by >= 0.05"]
    assert "champion_value" not in improvement.details  # a comparison holds both figures
    assert improvement.details["champion"] < improvement.details["challenger"]
    assert any(r.kind == "data" for r in result.results)
    assert any(r.kind == "fairness" for r in result.results)

    stored = checks.check_history(model=f"clf/{challenger.version}")
    assert stored[0].suite == "gate" and stored[0].dataset == held_out.ref
    assert len(stored[0].results) == len(result.results)
    assert result.record is not None and result.record.passed
    assert result.record.champion == f"clf/{champion.version}"
    events = steward.governance.audit_events(action="model.gate")
    assert [(e.subject, e.to_state) for e in events] == [
        (f"model:clf/{challenger.version}", "passed")
    ]

    code, out, _ = steward_cli("models", "show", f"clf/{challenger.version}")
    assert code == 0
    assert f"against clf/{champion.version}" in out and "challenger" in out
    assert "accuracy >= 0.8" in out
    code, out, _ = steward_cli("models", "show", f"clf/{challenger.version}", "--json")
    assert code == 0 and '"gate"' in out and '"champion_value"' in out
    card = models.card("clf", challenger.version)
    assert "## Gate" in card and f"clf/{champion.version}" in card


def test_a_worse_challenger_fails_and_the_default_gate_needs_no_checks(
    local_workspace: Any,
) -> None:
    champion = register()
    models.set_alias("clf", "champion", champion.version)
    worse = register(noise=0.4, seed=2)
    frame = labelled(rows=300, seed=8).drop(columns=["site"])

    result = steward.gate(f"models:/clf/{worse.version}", data=frame)

    assert not result.passed
    assert [r.name for r in result.failed] == ["accuracy improves on champion by >= -0.01"]
    assert result.dataset is None
    assert "failing: accuracy improves" in result.summary()


def test_gate_between_different_signatures_is_refused_and_stores_nothing(
    local_workspace: Any,
) -> None:
    champion = register()
    models.set_alias("clf", "champion", champion.version)
    narrow = register(columns=FEATURES[:3], seed=1)

    with pytest.raises(steward.InvalidInput, match="different signatures") as caught:
        steward.gate(f"clf/{narrow.version}", data=labelled(), target="label")

    assert "only the champion takes ['score']" in str(caught.value)
    assert checks.check_history(model=f"clf/{narrow.version}") == []
    assert steward.governance.audit_events(action="model.gate") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": labelled(), "target": "nope"}, "no label column 'nope'"),
        ({"data": labelled().drop(columns=["dose"]), "target": "label"}, "input column"),
        ({"data": labelled()}, "name the label column"),
        ({"data": labelled().head(0), "target": "label"}, "no rows"),
        ({"data": labelled(), "target": "label", "checks": []}, "no checks"),
        ({"data": labelled(), "target": "label", "checks": ["x"]}, "is not a check"),
    ],
)
def test_gate_bad_input_is_a_clear_error(
    workspace: Any, kwargs: dict[str, Any], message: str
) -> None:
    champion = register()
    models.set_alias("clf", "champion", champion.version)
    challenger = register(seed=1)

    with pytest.raises(steward.InvalidInput, match=message):
        steward.gate(f"clf/{challenger.version}", **kwargs)
    assert checks.check_history(model=f"clf/{challenger.version}") == []


def test_gate_needs_a_champion_other_than_itself(workspace: Any) -> None:
    first = register()
    with pytest.raises(steward.NotFound, match="no alias 'champion'"):
        steward.gate(f"clf/{first.version}", data=labelled(), target="label")
    models.set_alias("clf", "champion", first.version)
    with pytest.raises(steward.InvalidInput, match="is the champion itself"):
        steward.gate("clf@champion", data=labelled(), target="label")
