"""Raw pandera's side of ``benchmarks/governance.py``: the same checks as the Steward
suite, written directly as a pandera schema, validated with ``lazy=True``.

Usage (through ``peers.run_snippet``): ``python pandera_raw.py CONFIG RESULT``; CONFIG
names the Parquet file. Writes the best of ``repeats`` validation times. Must not
import Steward.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
import pandera.pandas as pa

with open(sys.argv[1]) as handle:
    config = json.load(handle)
frame = pd.read_parquet(config["data"])
numeric = [column for column in frame.columns if column.startswith("x")]
schema = pa.DataFrameSchema(
    {
        **{
            column: pa.Column("float64", pa.Check.in_range(-10, 10), nullable=False)
            for column in numeric
        },
        "site": pa.Column(checks=pa.Check.isin(["a", "b", "c", "d"]), nullable=False),
        "id": pa.Column("int64", unique=True, nullable=False),
    }
)
times = []
for _ in range(config["repeats"]):
    start = time.perf_counter()
    schema.validate(frame, lazy=True)
    times.append(time.perf_counter() - start)
with open(sys.argv[2], "w") as handle:
    json.dump({"seconds": min(times)}, handle)
