"""Profiles of new versions: reused, extended by appended CSV rows, or computed in full."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import steward
from steward.data import profiling
from steward.data.profile import TableProfile, profile_csv


def _rows(start: int, count: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    sites = np.array(["north", "south", "east", "west"])
    return "".join(
        f"{i},{rng.integers(1, 95)},{rng.normal(70, 15):.2f},{sites[rng.integers(4)]}\n"
        for i in range(start, start + count)
    )


def _assert_same_profile(a: TableProfile, b: TableProfile) -> None:
    assert a.rows == b.rows
    assert [c.name for c in a.columns] == [c.name for c in b.columns]
    for x, y in zip(a.columns, b.columns, strict=True):
        assert (x.dtype, x.kind, x.count, x.nulls, x.min, x.max) == (
            y.dtype,
            y.kind,
            y.count,
            y.nulls,
            y.min,
            y.max,
        )
        assert x.distinct_registers == y.distinct_registers
        assert (x.sketch, x.top, x.other) == (y.sketch, y.top, y.other)
        if x.mean is not None:
            assert math.isclose(x.mean, y.mean, rel_tol=1e-9)
            assert math.isclose(x.std or 0.0, y.std or 0.0, rel_tol=1e-6, abs_tol=1e-9)


@pytest.fixture
def full_profiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files profiled in full (not extended) during the test."""
    profiled: list[str] = []

    def counting(path: Path, display_name: str | None = None) -> TableProfile:
        profiled.append(path.name)
        return profile_csv(path, display_name)

    monkeypatch.setattr(profiling, "profile_csv", counting)
    return profiled


@pytest.mark.parametrize("rows", [1000, 6000], ids=["one blob", "chunked"])
def test_appended_rows_extend_the_previous_profile(
    workspace: Any, tmp_path: Path, full_profiles: list[str], rows: int
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,age,weight,site\n" + _rows(0, rows, seed=1))
    first = steward.data.add("t", path)
    with path.open("a") as handle:
        handle.write(_rows(rows, rows // 50, seed=2))
    version = steward.data.add("t", path)
    assert full_profiles == ["t.csv"]  # only the first add profiled the whole file
    assert version.rows == rows + rows // 50
    assert (first.manifest().files[0].chunks is None) == (rows == 1000)
    profile = version.profile()
    assert profile is not None
    _assert_same_profile(profile, profile_csv(path))


@pytest.mark.parametrize(
    "change",
    ["edit an early row", "widen a column", "no newline at the end before", "shrink"],
)
def test_other_changes_are_profiled_in_full(
    workspace: Any, tmp_path: Path, full_profiles: list[str], change: str
) -> None:
    path = tmp_path / "t.csv"
    text = "id,age,weight,site\n" + _rows(0, 3000, seed=1)
    if change == "no newline at the end before":
        text = text.rstrip("\n")
    path.write_text(text)
    steward.data.add("t", path)
    if change == "edit an early row":
        path.write_text(text.replace("\n1,", "\n-1,", 1) + _rows(3000, 40, seed=2))
    elif change == "widen a column":
        path.write_text(text + "3000,2.5,70.0,east\n")
    elif change == "no newline at the end before":
        path.write_text(text + "\n" + _rows(3000, 40, seed=2))
    else:
        path.write_text("id,age,weight,site\n" + _rows(0, 2000, seed=1))
    version = steward.data.add("t", path)
    assert full_profiles == ["t.csv", "t.csv"]
    profile = version.profile()
    assert profile is not None
    _assert_same_profile(profile, profile_csv(path))
    if change == "widen a column":
        assert profile.column("age").dtype == "double"


def test_an_unchanged_table_keeps_its_profile(
    workspace: Any, tmp_path: Path, full_profiles: list[str]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,age,weight,site\n" + _rows(0, 100, seed=1))
    steward.data.add("t", path)
    (tmp_path / "other.txt").write_text("x")
    path.write_bytes(path.read_bytes())  # same bytes, new modification time
    steward.data.add("t", str(tmp_path / "*.*"))
    assert full_profiles == ["t.csv"]
