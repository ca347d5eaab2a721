"""Steward: the workload as @steward.step functions in one @steward.pipeline."""

import json
import os
import sys
import time
from pathlib import Path

config = json.loads(Path(sys.argv[1]).read_text())
os.environ["STEWARD_HOME"] = config["home"]

from pipelines_workload import WIDTH, join, small, source  # noqa: E402

import steward  # noqa: E402
import steward.pipelines  # noqa: E402  (imported before the timer, as the peers import theirs)
import steward.store.metadata  # noqa: E402

source_step = steward.step(source, name="source")
small_step = steward.step(small, name="small")
join_step = steward.step(join, name="join")


@steward.pipeline
def fan(rows: int = 10_000):
    frame = source_step(rows)
    return join_step([small_step(frame, i) for i in range(WIDTH)])


if config["phase"] == "setup":  # create the workspace's stores, as 'zenml init' does
    from steward.workspace import current_workspace

    current_workspace().store  # noqa: B018
    Path(sys.argv[2]).write_text("{}")
    sys.exit(0)
start = time.perf_counter()
start_cpu = time.process_time()
record = fan.run(progress=False)
elapsed = time.perf_counter() - start
cpu = time.process_time() - start_cpu
counts = record.counts()
Path(sys.argv[2]).write_text(
    json.dumps(
        {"run_s": elapsed, "cpu_s": cpu, "result": steward.pipelines.load(record), "counts": counts}
    )
)
