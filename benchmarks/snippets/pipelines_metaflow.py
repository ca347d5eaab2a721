"""Runs the Metaflow flow as Metaflow is run (its CLI), timing the command."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

config = json.loads(Path(sys.argv[1]).read_text())
here = os.path.dirname(os.path.abspath(__file__))
flow = os.path.join(here, "pipelines_metaflow_flow.py")
env = {**os.environ, "PYTHONPATH": here, "USERNAME": "bench", "METAFLOW_USER": "bench"}
command = [sys.executable, flow, "--quiet", "run"]
if config["phase"] == "cached":
    command = [sys.executable, flow, "--quiet", "resume"]
start = time.perf_counter()
start_cpu = time.process_time()
subprocess.run(command, check=True, env=env, capture_output=True)
elapsed = time.perf_counter() - start
cpu = time.process_time() - start_cpu
Path(sys.argv[2]).write_text(json.dumps({"run_s": elapsed, "cpu_s": cpu, "result": None}))
