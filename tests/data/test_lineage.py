from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import steward
from steward.errors import InvalidInput
from tests.data.conftest import write_csv


def test_lineage_both_ways(any_workspace: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 5)
    with steward.start_run(name="prepare") as producer:
        made = steward.data.add("d", path)
    with steward.start_run(name="train") as reader:
        got = steward.data.get("d")
    with steward.start_run(name="evaluate") as explicit:
        steward.data.use("d:1")
        steward.data.use(made)  # recorded once
    edges = steward.data.lineage(made)
    assert got.id == made.id
    assert [(e.run_name, e.direction) for e in edges] == [
        ("prepare", "output"),
        ("train", "input"),
        ("evaluate", "input"),
    ]
    assert [(e.dataset, e.version, e.direction) for e in steward.data.run_lineage(reader.id)] == [
        ("d", 1, "input")
    ]
    assert steward.data.run_lineage(producer.id)[0].direction == "output"
    assert len(steward.data.run_lineage(explicit.id)) == 1


def test_use_needs_a_run(workspace: Any, tmp_path: Path) -> None:
    steward.data.add("d", write_csv(tmp_path / "a.csv", 2))
    with pytest.raises(InvalidInput, match="no active run"):
        steward.data.use("d")
    assert steward.data.get("d").lineage() == []
