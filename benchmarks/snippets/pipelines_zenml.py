"""ZenML 0.98: the workload as steps of a pipeline on the default local stack (cached)."""

import json
import sys
import time
from pathlib import Path

from pipelines_workload import WIDTH, join, small, source
from zenml import pipeline, step

source_step = step(source)
small_step = step(small)


@step
def join_step(*values: float) -> float:
    return join(list(values))


@pipeline
def fan():
    frame = source_step()
    join_step(*[small_step(frame, i, id=f"small_{i}") for i in range(WIDTH)])


start = time.perf_counter()
fan()
elapsed = time.perf_counter() - start
Path(sys.argv[2]).write_text(json.dumps({"run_s": elapsed, "result": None}))
