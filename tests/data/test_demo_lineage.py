from __future__ import annotations

from typing import Any

import pytest

import steward


@pytest.mark.slow
def test_demo_versions_its_data_and_records_lineage(workspace: Any) -> None:
    from rich.console import Console

    from steward.demo import print_demo, run_demo

    result = run_demo(console=Console(quiet=True))
    assert result.datasets == ("breast-cancer-train:1", "breast-cancer-test:1")
    train = steward.data.get("breast-cancer-train")
    readers = {edge.run_id for edge in train.lineage() if edge.direction == "input"}
    assert readers == set(result.run_ids.values())
    console = Console(record=True, width=120)
    print_demo(result, console)
    assert "data version → runs" in console.export_text()
