"""fairlearn's side of ``benchmarks/governance.py``: ``MetricFrame`` on the shared data.

Usage (through ``peers.run_snippet``): ``python fairlearn_metricframe.py CONFIG RESULT``;
CONFIG names the ``.npz`` file of labels, predictions and two sensitive columns.
Writes the time of the ``MetricFrame`` call and its per-group values. Must not
import Steward.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate
from sklearn.metrics import accuracy_score

with open(sys.argv[1]) as handle:
    config = json.load(handle)
data = np.load(config["data"], allow_pickle=False)
sensitive = pd.DataFrame({"sex": data["sex"], "region": data["region"]})
start = time.perf_counter()
frame = MetricFrame(
    metrics={"accuracy": accuracy_score, "selection_rate": selection_rate},
    y_true=data["y_true"],
    y_pred=data["y_pred"],
    sensitive_features=sensitive,
)
by_group = frame.by_group
seconds = time.perf_counter() - start
start = time.perf_counter()
parity = demographic_parity_difference(data["y_true"], data["y_pred"], sensitive_features=sensitive)
parity_seconds = time.perf_counter() - start
rows = [
    {
        "group": [str(part) for part in key],
        "accuracy": row["accuracy"],
        "selection_rate": row["selection_rate"],
    }
    for key, row in by_group.iterrows()
]
with open(sys.argv[2], "w") as handle:
    json.dump(
        {
            "seconds": seconds,
            "parity_seconds": parity_seconds,
            "groups": rows,
            "demographic_parity_difference": parity,
        },
        handle,
    )
