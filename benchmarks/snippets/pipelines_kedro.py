"""Kedro 1.7: the workload as nodes of a pipeline, run by the SequentialRunner in memory."""

import json
import sys
import time
from pathlib import Path

from kedro.io import DataCatalog
from kedro.pipeline import node, pipeline
from kedro.runner import SequentialRunner
from pipelines_workload import WIDTH, join, small, source


def make_small(index):
    def run(frame):
        return small(frame, index)

    run.__name__ = f"small_{index}"
    return run


def joined(*values):
    return join(list(values))


nodes = [node(source, inputs=None, outputs="frame", name="source")]
nodes += [
    node(make_small(i), inputs="frame", outputs=f"value_{i}", name=f"small_{i}")
    for i in range(WIDTH)
]
nodes.append(
    node(joined, inputs=[f"value_{i}" for i in range(WIDTH)], outputs="total", name="join")
)
flow = pipeline(nodes)
start = time.perf_counter()
start_cpu = time.process_time()
outputs = SequentialRunner().run(flow, DataCatalog())
elapsed = time.perf_counter() - start
cpu = time.process_time() - start_cpu
total = outputs["total"]
total = total.load() if hasattr(total, "load") else total
Path(sys.argv[2]).write_text(json.dumps({"run_s": elapsed, "cpu_s": cpu, "result": total}))
