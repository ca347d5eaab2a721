"""ZenML 0.98: the workload as steps of a pipeline on the default local stack (cached)."""

import json
import sys
import time
from pathlib import Path

from pipelines_workload import WIDTH, join, small, source
from zenml import pipeline, step

source_step = step(source)
small_step = step(small)


# ZenML steps take no *args (and need their source): one named parameter per branch.
_names = [f"v{i}" for i in range(WIDTH)]


@step
def join_step(
    v0: float,
    v1: float,
    v2: float,
    v3: float,
    v4: float,
    v5: float,
    v6: float,
    v7: float,
    v8: float,
    v9: float,
    v10: float,
    v11: float,
    v12: float,
    v13: float,
    v14: float,
    v15: float,
    v16: float,
    v17: float,
) -> float:
    return join([v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17])


@pipeline
def fan():
    frame = source_step()
    values = [small_step(frame, i, id=f"small_{i}") for i in range(WIDTH)]
    join_step(**dict(zip(_names, values, strict=True)))


start = time.perf_counter()
start_cpu = time.process_time()
fan()
elapsed = time.perf_counter() - start
cpu = time.process_time() - start_cpu
Path(sys.argv[2]).write_text(json.dumps({"run_s": elapsed, "cpu_s": cpu, "result": None}))
