from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

import steward
from tests.data.conftest import write_csv


def test_diff_files_rows_schema_and_statistics(blob_workspace: Any, tmp_path: Path) -> None:
    root = tmp_path / "d"
    write_csv(root / "t.csv", 100)
    (root / "old.txt").write_text("x")
    first = steward.data.add("d", root)
    write_csv(root / "t.csv", 110)  # 10 rows appended
    (root / "old.txt").unlink()
    (root / "new.txt").write_text("y")
    second = steward.data.add("d", root)
    result = steward.data.diff(first, second, key="id")
    assert (result.added, result.removed, result.changed) == (["new.txt"], ["old.txt"], ["t.csv"])
    (table,) = result.tables
    assert (table.rows_before, table.rows_after) == (100, 110)
    assert (table.rows_added, table.rows_removed) == (10, 0)
    assert table.statistic_shifts["id"]["max"] == (99.0, 109.0)
    low, high = table.statistic_shifts["id"]["p50"]
    assert 45 <= low <= 55 and 50 <= high <= 60 and high > low
    assert table.statistic_shifts["group"]["share 'a'"] == (0.34, round(37 / 110, 4))
    by_content = steward.data.diff("d:1", "d:2")
    assert (by_content.tables[0].rows_added, by_content.tables[0].rows_removed) == (10, 0)


def test_diff_tables_schema_change(blob_workspace: Any) -> None:
    a = steward.data.add("t", pd.DataFrame({"k": [1, 2, 3], "x": [1, 2, 3]}))
    b = steward.data.add("t", pd.DataFrame({"k": [2, 3, 4], "x": ["a", "b", "c"], "y": [0, 0, 0]}))
    (table,) = steward.data.diff(a, b, key=["k"]).tables
    assert table.columns_added == ["y"]
    old_type, new_type = table.type_changes["x"]
    assert old_type == "int64" and new_type.endswith("string")
    assert (table.rows_added, table.rows_removed) == (1, 1)
    assert steward.data.diff(a, a).identical


def test_rows_are_compared_a_batch_at_a_time_and_across_a_widened_key(
    blob_workspace: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    from steward.data import profile

    monkeypatch.setattr(profile, "CSV_BLOCK_SIZE", 1024)  # many batches
    path = tmp_path / "t.csv"
    path.write_text("id,v\n" + "".join(f"{i},{i % 7}\n" for i in range(3000)))
    first = steward.data.add("w", path)
    # the key column becomes fractional far down the file: a double column now
    path.write_text("id,v\n" + "".join(f"{i},{i % 7}\n" for i in range(10, 3000)) + "3000.5,1\n")
    second = steward.data.add("w", path)
    (table,) = steward.data.diff(first, second, key="id").tables
    assert table.type_changes == {"id": ("int64", "double")}
    assert (table.rows_added, table.rows_removed) == (1, 10)  # 10.0 matches 10
    (by_content,) = steward.data.diff(first, second).tables
    assert (by_content.rows_added, by_content.rows_removed) == (1, 10)
    batches = list(second.iter_batches("t.csv", ["id"]))
    assert len(batches) > 1 and {str(b.schema.field("id").type) for b in batches} == {"double"}
    assert sum(b.num_rows for b in batches) == 2991
