"""Plain Python: the workload's functions called directly (the floor)."""

import json
import sys
import time
from pathlib import Path

start_process = time.perf_counter()
from pipelines_workload import WIDTH, join, small, source  # noqa: E402

config = json.loads(Path(sys.argv[1]).read_text())
start = time.perf_counter()
start_cpu = time.process_time()
frame = source()
result = join([small(frame, i) for i in range(WIDTH)])
elapsed = time.perf_counter() - start
cpu = time.process_time() - start_cpu
Path(sys.argv[2]).write_text(json.dumps({"run_s": elapsed, "cpu_s": cpu, "result": result}))
