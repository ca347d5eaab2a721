"""Prefect 3.9: the workload as tasks of a flow, results persisted and cached by inputs."""

import json
import sys
import time
from pathlib import Path

from pipelines_workload import WIDTH, join, small, source
from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

policy = INPUTS + TASK_SOURCE
source_task = task(source, persist_result=True, cache_policy=policy)
small_task = task(small, persist_result=True, cache_policy=policy)
join_task = task(join, persist_result=True, cache_policy=policy)


@flow(persist_result=True)
def fan():
    frame = source_task()
    return join_task([small_task(frame, i) for i in range(WIDTH)])


start = time.perf_counter()
start_cpu = time.process_time()
result = fan()
elapsed = time.perf_counter() - start
cpu = time.process_time() - start_cpu
Path(sys.argv[2]).write_text(json.dumps({"run_s": elapsed, "cpu_s": cpu, "result": result}))
