"""Pipelines: steps and graphs in plain Python, cached, on one machine or a Ray cluster.

``@steward.step`` and ``@steward.pipeline`` turn plain functions into a step
graph (a step's return value passed to another step is an edge). Running a
pipeline records a tracking run with a nested run per step; outputs are
content-addressed blobs in safe formats, and a step whose code, parameters
and inputs are unchanged is served from the cache. ``resume`` reruns a failed
run from the failure. ``score`` scores files or datasets in bounded-memory
chunks, locally or on Ray, into Parquet and the prediction log. ``retrain`` is the
built-in pipeline of the closed loop: refit the champion on new data, gate, promote.
"""

from __future__ import annotations

from steward.pipelines.api import get_run, list_runs, load, resume, run
from steward.pipelines.definition import Pipeline, load_target, pipeline
from steward.pipelines.executor import EXECUTORS, Executor, create_executor
from steward.pipelines.recipes import retrain
from steward.pipelines.runner import ProgressListener
from steward.pipelines.scoring import ScoreResult, score
from steward.pipelines.steps import Step, step
from steward.store.pipeline_records import (
    CacheEntry,
    PipelineRunRecord,
    StepOutput,
    StepRecord,
    StepStatus,
)

__all__ = [
    "EXECUTORS",
    "CacheEntry",
    "Executor",
    "Pipeline",
    "PipelineRunRecord",
    "ProgressListener",
    "ScoreResult",
    "Step",
    "StepOutput",
    "StepRecord",
    "StepStatus",
    "create_executor",
    "get_run",
    "list_runs",
    "load",
    "load_target",
    "pipeline",
    "resume",
    "retrain",
    "run",
    "score",
    "step",
]
