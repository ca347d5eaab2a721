"""SHAP's side of ``benchmarks/governance.py``: ``shap.TreeExplainer`` on the shared
forest (pickled by the benchmark itself) and rows.

Usage (through ``peers.run_snippet``): ``python shap_tree.py CONFIG RESULT``. Writes the
time of ``shap_values`` and the mean |SHAP| per feature. Must not import Steward.
"""

from __future__ import annotations

import json
import pickle
import sys
import time

import numpy as np
import pandas as pd
import shap

with open(sys.argv[1]) as handle:
    config = json.load(handle)
with open(config["model"], "rb") as handle:
    model = pickle.load(handle)  # the benchmark's own forest, written a moment ago
rows = pd.read_parquet(config["data"]).head(config["rows"])
start = time.perf_counter()
values = shap.TreeExplainer(model).shap_values(rows, check_additivity=False)
seconds = time.perf_counter() - start
array = np.asarray(values)
if array.ndim == 3:
    array = array[:, :, -1]
with open(sys.argv[2], "w") as handle:
    json.dump({"seconds": seconds, "mean_abs": np.abs(array).mean(axis=0).tolist()}, handle)
