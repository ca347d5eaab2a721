"""drift(): verdicts, defaults by size, summaries instead of raw data, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from steward.errors import InvalidInput
from steward.monitoring import drift
from steward.monitoring.statistics.summary import DatasetSummary, summarize


def frame(n: int, seed: int, shift: float = 0.0, extra_level: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = ["a", "b", "c", "d"] if extra_level else ["a", "b", "c"]
    weights = [0.25, 0.25, 0.2, 0.3] if extra_level else [0.4, 0.35, 0.25]
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 10, n),
            "income": rng.lognormal(10, 1, n),
            "stable": rng.uniform(0, 1, n),
            "region": rng.choice(levels, n, p=weights),
            "score": rng.uniform(0, 1, n) + shift / 2,
        }
    )


@pytest.mark.parametrize("n", [300, 20_000])
def test_flags_the_shifted_columns_only(n: int) -> None:
    result = drift(frame(n, 1), frame(n, 2, shift=1.0, extra_level=True), prediction="score")
    assert result.drifted == ["age", "region"]
    assert result.prediction_drift is not None and result.prediction_drift.drifted
    assert result.dataset_drift  # 2 of 4 features
    expected_test = "ks" if n <= 1000 else "wasserstein"
    assert result.feature("age").test == expected_test
    assert result.feature("age").effect_size == pytest.approx(1.0, abs=0.2)
    table = result.to_pandas()
    assert list(table["column"]) == ["age", "income", "stable", "region", "score"]
    json.dumps(result.to_dict())


@pytest.mark.parametrize("n", [400, 30_000])
def test_stored_summary_gives_the_same_verdicts_as_raw_data(n: int) -> None:
    reference, current = frame(n, 3), frame(n, 4, shift=0.3)
    stored = DatasetSummary.from_dict(json.loads(json.dumps(summarize(reference).to_dict())))
    raw = drift(reference, current)
    from_summary = drift(stored, current)
    both_summaries = drift(stored, summarize(current, like=stored))
    for other in (from_summary, both_summaries):
        assert other.drifted == raw.drifted
        for a, b in zip(raw.features, other.features, strict=True):
            assert a.drifted == b.drifted
            assert a.score == pytest.approx(b.score, rel=1e-9)


def test_benjamini_hochberg_adjusts_p_values() -> None:
    reference, current = frame(200, 5), frame(200, 6)
    corrected = drift(reference, current)
    raw = drift(reference, current, correction=None)
    for a, b in zip(corrected.features, raw.features, strict=True):
        assert a.p_value == b.p_value
        assert a.score >= b.score  # type: ignore[operator]


def test_per_feature_tests_thresholds_and_importance() -> None:
    reference, current = frame(5000, 7), frame(5000, 8, shift=0.3)
    result = drift(
        reference,
        current,
        tests={"age": "psi", "region": "chi2"},
        thresholds={"age": 0.01, "income": 0.5},
        importance={"age": 10.0},
    )
    assert result.feature("age").test == "psi" and result.feature("age").threshold == 0.01
    assert result.feature("income").threshold == 0.5
    assert result.feature("region").test == "chi2"
    assert result.drift_share == pytest.approx(11 / 14)  # age (10) and the shifted score (1)
    with pytest.raises(InvalidInput, match="unknown test"):
        drift(reference, current, tests={"age": "t-test"})


def test_schema_changes_are_reported_not_raised() -> None:
    reference = frame(500, 9)
    current = reference.drop(columns=["income"]).assign(
        age=lambda df: df["age"].astype(str), new_col=1
    )
    result = drift(reference, current)
    assert result.schema.missing == ("income",)
    assert result.schema.new == ("new_col",)
    assert [r[0] for r in result.schema.retyped] == ["age"]
    assert result.feature("income").status == "missing"
    assert result.feature("age").status == "retyped"
    assert result.feature("age").drifted is None


def test_bad_windows_get_notes_not_exceptions() -> None:
    rng = np.random.default_rng(10)
    n = 2000
    reference = pd.DataFrame(
        {
            "constant": np.ones(n),
            "all_null": np.full(n, np.nan),
            "with_inf": rng.normal(size=n),
            "many_levels": [f"id-{i}" for i in rng.integers(0, 5000, n)],
            "flag": rng.random(n) > 0.5,
        }
    )
    current = reference.copy()
    current.loc[:10, "with_inf"] = np.inf
    current["constant"] = 2.0
    current["many_levels"] = [f"id-{i}" for i in rng.integers(3000, 8000, n)]
    result = drift(reference, current)
    assert result.feature("all_null").status == "empty"
    assert "only missing values" in result.feature("all_null").notes[0]
    constant = result.feature("constant")
    assert constant.drifted and any("constant" in note for note in constant.notes)
    assert any("infinite" in note for note in result.feature("with_inf").notes)
    assert result.feature("many_levels").drifted
    assert result.feature("flag").kind == "categorical" and not result.feature("flag").drifted

    one_row = drift(reference, current.iloc[20:21])
    assert any("little power" in note for note in one_row.feature("with_inf").notes)
    empty = drift(reference, current.iloc[:0])
    assert empty.feature("with_inf").status == "empty"
    assert empty.drifted == [] and not empty.dataset_drift
    assert "empty" in empty.notes[0]
    both_empty = drift(reference.iloc[:0], current.iloc[:0])
    assert both_empty.drift_share == 0.0


def test_pyarrow_tables_and_label_drift() -> None:
    reference, current = frame(3000, 11), frame(3000, 12)
    current["label"] = np.r_[np.ones(2000), np.zeros(1000)].astype(int)
    reference["label"] = np.r_[np.ones(1000), np.zeros(2000)].astype(int)
    result = drift(
        pa.Table.from_pandas(reference),
        pa.Table.from_pandas(current),
        target="label",
        categorical=["label"],
    )
    assert result.target_drift is not None and result.target_drift.drifted
    assert result.drifted == []
    assert result.metrics()["drift.target"] == 1.0


def test_rejects_what_is_not_a_frame() -> None:
    with pytest.raises(InvalidInput, match="DataFrame"):
        drift([1, 2, 3], frame(10, 1))
