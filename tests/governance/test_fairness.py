"""Fairness reports agree with fairlearn 0.15 on the same data, and say when a group is
too small to judge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, precision_score, recall_score

from steward.errors import InvalidInput
from steward.governance import fairness_report


def _data(
    rows: int = 20_000, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], rows, p=[0.4, 0.6]),
            "region": rng.choice(["north", "south", "east"], rows),
            "age_band": rng.choice([1, 2, 3, 4], rows),
        }
    )
    bias = np.where(frame["sex"] == "F", -0.1, 0.05) + np.where(frame["region"] == "east", 0.1, 0)
    score = np.clip(rng.random(rows) * 0.8 + 0.1 + bias, 0, 1)
    truth = (rng.random(rows) < score).astype(int)
    predicted = (score > 0.5).astype(int)
    return frame, truth, predicted, score


@pytest.mark.parametrize("columns", [["sex"], ["sex", "region"], ["region", "age_band"]])
def test_per_group_metrics_and_disparities_equal_fairlearn(columns: list[str]) -> None:
    # Imported here, not at collection: a model logged later in this worker would
    # otherwise lock fairlearn into its environment.
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
        false_positive_rate,
        selection_rate,
    )

    frame, truth, predicted, _ = _data()
    ours = fairness_report(truth, predicted, columns, data=frame)
    theirs = MetricFrame(
        metrics={
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "recall": recall_score,
            "precision": precision_score,
            "false_positive_rate": false_positive_rate,
        },
        y_true=truth,
        y_pred=predicted,
        sensitive_features=frame[columns],
    ).by_group.reset_index()
    assert len(ours.groups) == len(theirs)
    for group, (_, row) in zip(ours.groups, theirs.iterrows(), strict=True):
        assert group.group == {column: str(row[column]) for column in columns}
        for metric in ("accuracy", "selection_rate", "recall", "precision", "false_positive_rate"):
            assert getattr(group, metric) == pytest.approx(row[metric], abs=1e-12)
    sensitive = frame[columns]
    assert ours.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(truth, predicted, sensitive_features=sensitive)
    )
    assert ours.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(truth, predicted, sensitive_features=sensitive)
    )
    assert ours.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(truth, predicted, sensitive_features=sensitive)
    )
    assert ours.equalized_odds_ratio == pytest.approx(
        equalized_odds_ratio(truth, predicted, sensitive_features=sensitive)
    )
    assert ours.overall.accuracy == pytest.approx(accuracy_score(truth, predicted))


def test_string_labels_values_given_directly_and_calibration() -> None:
    frame, truth, predicted, score = _data(5_000, seed=1)
    labels = np.where(truth == 1, "sick", "well")
    guesses = np.where(predicted == 1, "sick", "well")
    report = fairness_report(labels, guesses, frame["sex"], y_score=score, pos_label="sick")
    direct = fairness_report(truth, predicted, {"sex": frame["sex"].to_numpy()}, y_score=score)
    assert report.to_dict() == direct.to_dict()
    means = pd.Series(score).groupby(frame["sex"]).mean()
    assert [g.mean_score for g in report.groups] == pytest.approx([means["F"], means["M"]])
    brier = pd.Series((score - truth) ** 2).groupby(frame["sex"]).mean()
    assert [g.brier for g in report.groups] == pytest.approx([brier["F"], brier["M"]])
    for group in report.groups:
        assert 0 <= group.calibration_error < 0.2
    table = report.by_group()
    assert list(table["sex"]) == ["F", "M"] and list(table["count"]) == [
        g.count for g in report.groups
    ]


def test_small_groups_get_wide_intervals_and_a_warning() -> None:
    frame, truth, predicted, _ = _data(2_000, seed=2)
    frame.loc[:9, "region"] = "island"  # ten rows only
    report = fairness_report(truth, predicted, ["region"], data=frame, min_group_size=30)
    island = next(g for g in report.groups if g.group == {"region": "island"})
    big = next(g for g in report.groups if g.group == {"region": "north"})
    assert island.too_small and not big.too_small
    assert any("island" in warning and "too small" in warning for warning in report.warnings)
    for group in (island, big):
        low, high = group.intervals["selection_rate"].low, group.intervals["selection_rate"].high
        assert low <= group.selection_rate <= high
    width = lambda g: g.intervals["accuracy"].high - g.intervals["accuracy"].low  # noqa: E731
    assert width(island) > 3 * width(big)


def test_bad_input_is_refused() -> None:
    frame, truth, predicted, _ = _data(100)
    with pytest.raises(InvalidInput, match="not in the data"):
        fairness_report(truth, predicted, ["race"], data=frame)
    with pytest.raises(InvalidInput, match="need data="):
        fairness_report(truth, predicted, ["sex"])
    with pytest.raises(InvalidInput, match="rows"):
        fairness_report(truth, predicted, frame["sex"][:50])
    with pytest.raises(InvalidInput, match="one length"):
        fairness_report(truth[:10], predicted, frame["sex"])
