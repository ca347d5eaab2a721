"""The README's snippets run as written (with their data made up and paths made local)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

README = Path(__file__).parents[1] / "README.md"


def _snippet(heading: str) -> str:
    """The first Python block after ``heading``."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, heading
    return match.group(1)


def _patients(start: int, count: int) -> pd.DataFrame:
    ids = range(start, start + count)
    return pd.DataFrame(
        {
            "patient_id": list(ids),
            "age": [20 + i % 60 for i in ids],
            "temp": [36.5 + (i % 30) / 10 for i in ids],
        }
    )


def test_version_data_snippet_runs(workspace: Any, tmp_path: Path) -> None:
    code = _snippet("### Version data").replace("/media/usb/steward", str(tmp_path / "usb"))
    before, marker, after = code.partition("# ... the nightly export")
    assert marker, "the snippet no longer says where the data changes"
    train = tmp_path / "data" / "train"
    train.mkdir(parents=True)
    _patients(0, 500).to_csv(train / "patients.csv", index=False)
    names: dict[str, Any] = {"steward": __import__("steward")}
    exec(compile(before, "README.md", "exec"), names)
    assert names["first"].version == names["again"].version == 1

    pd.concat([_patients(0, 500), _patients(500, 40)]).to_csv(train / "patients.csv", index=False)
    exec(compile(after.split("\n", 1)[1], "README.md", "exec"), names)
    assert names["latest"].version == 2
    assert len(names["df"]) == 540
    (table,) = names["changes"].tables
    assert table.rows_added == 40 and names["changes"].changed == ["patients.csv"]
