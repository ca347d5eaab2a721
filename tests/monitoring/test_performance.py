"""Realised performance (overall, per segment, with intervals) and CBPE estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from steward.errors import InvalidInput
from steward.monitoring import estimate_performance, performance
from steward.monitoring.checks.estimated import expected_metrics


def classified(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    proba = rng.uniform(0, 1, n)
    label = (rng.uniform(0, 1, n) < proba).astype(int)  # calibrated by construction
    return pd.DataFrame(
        {
            "label": label,
            "pred": (proba >= 0.5).astype(int),
            "proba": proba,
            "region": rng.choice(["north", "south"], n),
        }
    )


@pytest.mark.parametrize("n", [400, 20_000])
def test_classification_metrics_match_sklearn(n: int) -> None:
    df = classified(n, 1)
    result = performance(df, target="label", prediction="pred", proba="proba", segment="region")
    m = result.overall.metrics
    assert m["accuracy"].value == pytest.approx(skm.accuracy_score(df.label, df.pred))
    assert m["precision"].value == pytest.approx(skm.precision_score(df.label, df.pred))
    assert m["recall"].value == pytest.approx(skm.recall_score(df.label, df.pred))
    assert m["f1"].value == pytest.approx(skm.f1_score(df.label, df.pred))
    assert m["roc_auc"].value == pytest.approx(skm.roc_auc_score(df.label, df.proba))
    assert m["log_loss"].value == pytest.approx(skm.log_loss(df.label, df.proba))
    assert m["accuracy"].lower < m["accuracy"].value < m["accuracy"].upper  # type: ignore[operator]
    assert m["accuracy"].method == ("bootstrap" if n <= 5000 else "wilson")
    assert [s.segment for s in result.segments] == ["north", "south"]
    north = df[df.region == "north"]
    assert result.segments[0].metrics["f1"].value == pytest.approx(
        skm.f1_score(north.label, north.pred)
    )
    assert "performance.f1.north" in result.metrics()
    assert set(result.to_pandas()["segment"]) == {"(all)", "north", "south"}


def test_regression_multiclass_and_missing_labels() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    df = pd.DataFrame({"y": y, "yhat": y + rng.normal(0, 0.5, 300)})
    df.loc[:9, "y"] = np.nan
    result = performance(df, target="y", prediction="yhat")
    assert result.task == "regression"
    kept = df.dropna()
    assert result.overall.metrics["mae"].value == pytest.approx(
        skm.mean_absolute_error(kept.y, kept.yhat)
    )
    assert result.overall.metrics["r2"].value == pytest.approx(skm.r2_score(kept.y, kept.yhat))
    assert any("without a label" in note for note in result.overall.notes)

    labels = rng.choice(["a", "b", "c"], 200)
    multi = performance(
        pd.DataFrame({"t": labels, "p": np.roll(labels, 1)}), target="t", prediction="p"
    )
    assert multi.overall.metrics["f1"].value == pytest.approx(
        skm.f1_score(labels, np.roll(labels, 1), average="macro")
    )
    with pytest.raises(InvalidInput, match="no column"):
        performance(df, target="nope", prediction="yhat")


def test_cbpe_estimates_are_close_to_realised_when_calibrated() -> None:
    reference, current = classified(20_000, 3), classified(20_000, 4)
    estimate = estimate_performance(current, proba="proba", reference=reference, target="label")
    assert estimate.calibrated
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert estimate.estimated[name] == pytest.approx(estimate.realised[name], abs=0.02), name
    table = estimate.to_pandas()
    assert list(table.columns) == ["metric", "estimated", "realised"]


def test_expected_metrics_of_certain_predictions_are_exact() -> None:
    p = np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    expected = expected_metrics(p)
    assert expected["accuracy"] == 1.0 and expected["f1"] == 1.0
    assert expected["roc_auc"] == 1.0
    assert np.isnan(expected_metrics(np.array([]))["accuracy"])


@pytest.mark.parametrize("calibrate", [True, False])
@pytest.mark.parametrize(
    ("window", "note"),
    [
        (pd.DataFrame({"proba": pd.Series([], dtype=float)}), "is empty"),
        (pd.DataFrame({"proba": [np.nan] * 30, "label": [1, 0] * 15}), "no probability in its 30"),
    ],
)
def test_estimating_an_empty_or_all_missing_window_reports_insufficient_data(
    window: pd.DataFrame, note: str, calibrate: bool
) -> None:
    reference = classified(2_000, 5) if calibrate else None
    target = "label" if calibrate else None
    estimate = estimate_performance(window, proba="proba", reference=reference, target=target)
    assert estimate.rows == 0 and estimate.estimated == {} and estimate.metrics() == {}
    assert any(note in text for text in estimate.notes), estimate.notes
    # like realised performance without labels: no numbers, a note, nothing raised
    realised = performance(window.assign(pred=1, label=np.nan), target="label", prediction="pred")
    assert realised.metrics() == {} and "no labelled rows" in realised.overall.notes
    assert estimate.to_pandas().empty
