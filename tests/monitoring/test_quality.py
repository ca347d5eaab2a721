"""quality(): missing, out of range, unseen categories, schema changes, duplicates."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from steward.monitoring import quality, summarize


def test_quality_figures() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"age": rng.uniform(18, 90, 1000), "clinic": rng.choice(["a", "b"], 1000), "x": 1.0}
    )
    current = reference.iloc[:200].copy()
    current.loc[:19, "age"] = np.nan
    current.loc[20:29, "age"] = 130.0
    current.loc[30:39, "clinic"] = "z"
    current = pd.concat([current, current.iloc[100:105]], ignore_index=True).drop(columns=["x"])
    current["new"] = "n"
    result = quality(reference, current)
    age = result.column("age")
    assert age.missing == 20 and age.missing_rate == pytest.approx(20 / 205)
    assert age.out_of_range == 10
    clinic = result.column("clinic")
    assert clinic.unseen_categories == 1 and clinic.unseen_examples == ("z",)
    assert clinic.unseen_rate == pytest.approx(10 / 205)
    assert result.duplicate_rows == int(current.duplicated().sum()) >= 5
    assert result.schema.missing == ("x",) and result.schema.new == ("new",)
    metrics = result.metrics()
    assert metrics["quality.missing.age"] == pytest.approx(20 / 205)
    assert metrics["quality.duplicates"] == pytest.approx(result.duplicate_rows / 205)
    assert list(result.to_pandas()["column"]) == ["age", "clinic", "new"]
    from_summary = quality(summarize(reference), current)
    assert from_summary.column("age").out_of_range == 10


def test_steward_exposes_monitoring_lazily() -> None:
    code = (
        "import sys, steward\n"
        "assert 'steward.monitoring' not in sys.modules and 'numpy' not in sys.modules\n"
        "assert callable(steward.monitoring.drift)\n"
        "print('ok')\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert output.stdout.strip() == "ok", output.stderr
