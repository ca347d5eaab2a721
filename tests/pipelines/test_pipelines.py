"""Pipelines in this process: the graph, records, caching, outputs, failures and resume."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event

import steward
from steward.errors import Conflict, InvalidInput, NotFound, PipelineFailed
from steward.governance.audit import audit_events, verify_audit
from steward.pipelines.fingerprint import code_digest
from tests.pipelines import flows


def _by_name(record: Any) -> dict[str, Any]:
    return {step.name: step for step in record.steps}


def _flow_file(folder: Path, stem: str, source: str) -> Path:
    """Write a pipeline file under a name of its own: a test run three ways loads it three
    times in one process, and a second module of the same name is refused."""
    path = folder / f"{stem}_{uuid.uuid4().hex[:8]}.py"
    path.write_text(source)
    return path


def test_the_graph_comes_from_the_calls() -> None:
    graph = flows.stats.build({"n": 10, "columns": ["x", "y", "x"]})
    assert [node.name for node in graph.nodes] == [
        "load",
        "column_mean",
        "column_mean_2",
        "column_mean_3",
        "total",
    ]
    nodes = {node.name: node for node in graph.nodes}
    assert nodes["load"].params == {"n": 10} and nodes["load"].depends_on == ()
    assert nodes["column_mean_2"].params == {"column": "y"}
    assert nodes["column_mean_2"].inputs == {
        "frame": {"$output": {"step": "load", "output": "output"}}
    }
    assert nodes["total"].depends_on == ("column_mean", "column_mean_2", "column_mean_3")
    assert graph.result == {"$output": {"step": "total", "output": "output"}}
    assert graph.dependants("load") == {"column_mean", "column_mean_2", "column_mean_3", "total"}


def test_a_step_outside_a_pipeline_is_its_function() -> None:
    assert flows.plus_one(1) == 2
    assert flows.total([1.0, 2.0]) == {"total": 3.0}


def test_run_is_a_tracking_run_with_a_nested_run_per_step(any_workspace: Any) -> None:
    record = flows.stats(n=20)
    assert record.status == steward.RunStatus.FINISHED
    assert steward.pipelines.load(record) == {"total": 9.5 + 19.0}
    parent = steward.get_run(record.id)
    assert parent.tags["steward.pipeline"] == "stats"
    assert parent.params == {"n": "20", "columns": "null"}
    steps = _by_name(record)
    assert [step.status for step in record.steps] == [steward.pipelines.StepStatus.COMPLETED] * 4
    for step in record.steps:
        run = steward.get_run(step.run_id)
        assert run.parent_id == record.id and run.status == steward.RunStatus.FINISHED
        assert {"duration_s", "cpu_seconds", "peak_memory_mb"} <= set(run.metrics)
        assert run.metrics["peak_memory_mb"] > 10  # a Python process with pandas loaded
        assert run.tags["steward.step"] == step.name and run.tags["steward.cache"] == "miss"
        assert step.duration_s is not None and step.cpu_seconds is not None
    assert steward.get_run(steps["column_mean_2"].run_id).params == {"column": "y"}
    assert steward.get_run(steps["column_mean"].run_id).metrics["rows"] == 20
    artifacts = {a.path: a for a in steward.list_artifacts(steps["load"].run_id)}
    assert set(artifacts) == {"stdout.txt"}
    out = steward.download_artifact(steps["load"].run_id, "stdout.txt", "out.txt").read_text()
    assert out == "loading 20 rows\n"
    assert steward.pipelines.load(record, "load").shape == (20, 2)
    # Step runs start and end through the audit log like any other run.
    for step in record.steps:
        trail = audit_events(subject=f"run:{step.run_id}", limit=None, newest_first=False)
        assert [(event.action, event.to_state) for event in trail] == [
            ("run.start", "RUNNING"),
            ("run.end", "FINISHED"),
        ]
    assert verify_audit().ok


def test_unchanged_steps_come_from_the_cache(any_workspace: Any) -> None:
    first = flows.stats(n=30)
    again = flows.stats(n=30)
    assert {step.status.value for step in again.steps} == {"cached"}
    assert {step.cached_from_run for step in again.steps} == {first.id}
    assert steward.pipelines.load(again) == steward.pipelines.load(first)
    assert steward.get_run(_by_name(again)["load"].run_id).tags["steward.cache"] == "hit"
    # The cache follows content, not step names: swapped columns reuse both means,
    # and only the sum over them (its input changed order) runs again.
    changed = flows.stats(n=30, columns=["y", "x"])
    statuses = {step.name: step.status.value for step in changed.steps}
    assert statuses == {
        "load": "cached",
        "column_mean": "cached",
        "column_mean_2": "cached",
        "total": "completed",
    }
    assert {step.status.value for step in flows.stats(n=31).steps} == {"completed"}
    no_cache = flows.stats.run({"n": 30}, cache=False)
    assert {step.status.value for step in no_cache.steps} == {"completed"}


def test_an_upstream_that_reruns_to_the_same_bytes_keeps_its_dependants_cached(
    workspace: Any, tmp_path: Path
) -> None:
    source = textwrap.dedent(
        """
        import steward

        @steward.step(cache=False)
        def always(value: int) -> int:
            return value * 2

        @steward.step
        def after(value: int) -> int:
            return value + 1

        @steward.pipeline
        def chained(value: int = 3):
            return after(always(value))
        """
    )
    (tmp_path / "cutoff_flow.py").write_text(source)
    pipeline = steward.pipelines.load_target(f"{tmp_path}/cutoff_flow.py:chained")
    pipeline()
    second = _by_name(pipeline())
    assert second["always"].status.value == "completed"
    assert second["after"].status.value == "cached"


def test_the_code_digest_follows_code_not_formatting(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))

    def digest(body: str) -> str:
        name = f"digest_module_{abs(hash(body))}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
        module = importlib.import_module(name)
        try:
            return code_digest(module.step_fn)
        finally:
            sys.modules.pop(name)

    base = digest(
        """
        LIMIT = 3
        def helper(x):
            return x + 1
        def step_fn(x):
            '''Doc.'''
            return helper(x) * LIMIT
        """
    )
    assert base == digest(
        """
        LIMIT = 3
        def helper(x):
            # a comment
            return x + 1
        def step_fn(x):
            '''Another docstring.'''
            return helper(x)  *  LIMIT   # spacing
        """
    )
    assert base != digest(  # the step's own code
        """
        LIMIT = 3
        def helper(x):
            return x + 1
        def step_fn(x):
            return helper(x) * LIMIT + 0
        """
    )
    assert base != digest(  # a helper it calls from the same module
        """
        LIMIT = 3
        def helper(x):
            return x + 2
        def step_fn(x):
            return helper(x) * LIMIT
        """
    )
    assert base != digest(  # a module constant it reads
        """
        LIMIT = 4
        def helper(x):
            return x + 1
        def step_fn(x):
            return helper(x) * LIMIT
        """
    )


def test_models_arrays_and_several_outputs(workspace: Any) -> None:
    record = flows.training(n=60)
    steps = _by_name(record)
    assert [output.name for output in steps["split"].outputs] == ["features", "labels"]
    assert [o.kind for o in steps["split"].outputs] == ["pandas", "numpy"]
    model_output = steps["fit"].output()
    assert model_output.kind == "model" and model_output.meta["flavor"] == "sklearn"
    # The model is stored through its flavor (skops) as artifacts of the step's run.
    assert model_output.meta["run_id"] == steps["fit"].run_id
    paths = {a.path for a in steward.list_artifacts(steps["fit"].run_id)}
    assert "outputs/output/steward-model.json" in paths
    loaded = steward.models.load(f"runs:/{steps['fit'].run_id}/outputs/output")
    result = steward.pipelines.load(record)
    features = steward.pipelines.load(record, "split", "features")
    assert np.array_equal(loaded.predict(features), result["model"].predict(features))
    assert result["accuracy"] > 0.9
    assert steward.get_run(steps["accuracy"].run_id).metrics["accuracy"] == result["accuracy"]
    labels = steward.pipelines.load(record, "split", "labels")
    assert labels.dtype == np.int64 and labels.shape == (60,)


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("series", lambda v: v.name == "s" and list(v) == [1.5, 2.5]),
        ("arrow", lambda v: v.column("a").to_pylist() == [1, 2]),
        ("polars", lambda v: v["a"].to_list() == [1, 2]),
        ("bytes", lambda v: v == b"\x00raw"),
        ("indexed", lambda v: list(v.index) == ["p", "q"] and v.index.name == "id"),
    ],
)
def test_outputs_come_back_as_they_were(workspace: Any, kind: str, check: Any) -> None:
    assert check(steward.pipelines.load(flows.one(kind)))


@pytest.mark.parametrize(
    ("kind", "named"),
    [("generator", "generator"), ("object-array", "NumPy array of Python objects")],
)
def test_an_unstorable_output_fails_naming_step_and_type(
    workspace: Any, kind: str, named: str
) -> None:
    with pytest.raises(PipelineFailed) as caught:
        flows.one(kind)
    record = caught.value.run
    step = record.steps[0]
    assert step.status.value == "failed" and "returns" in step.error and named in step.error
    assert "'returns'" in str(caught.value)


def test_a_failure_skips_dependants_and_resume_finishes_from_the_cache(
    any_workspace: Any, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    flag.write_text("up")
    with pytest.raises(PipelineFailed) as caught:
        flows.branches(flag=str(flag))
    failed = caught.value.run
    statuses = {step.name: step.status.value for step in failed.steps}
    assert statuses == {
        "fragile": "failed",
        "plus_one": "skipped",
        "plus_one_2": "completed",  # the independent branch finished
        "plus_one_3": "completed",
        "add": "skipped",
    }
    assert failed.status == steward.RunStatus.FAILED
    fragile = _by_name(failed)["fragile"]
    assert fragile.error == f"ValueError: flag {flag} is up"
    traceback = steward.download_artifact(fragile.run_id, "traceback.txt", "tb.txt").read_text()
    assert "Traceback" in traceback and "in fragile" in traceback
    assert steward.get_run(fragile.run_id).status == steward.RunStatus.FAILED
    with pytest.raises(Conflict, match="nothing to resume"):
        steward.pipelines.resume(flows.stats(n=5).id)

    flag.unlink()
    resumed = steward.pipelines.resume(failed.id[:10])
    assert resumed.resumed_from == failed.id and resumed.status == steward.RunStatus.FINISHED
    steps = _by_name(resumed)
    assert steps["plus_one_2"].status.value == "cached"
    assert steps["plus_one_2"].cached_from_run == failed.id
    assert steps["fragile"].status.value == "completed"
    assert steward.pipelines.load(resumed) == (1 + 1 + 1) + (10 + 1 + 1)


def test_resume_reuses_steps_that_never_enter_the_cache(workspace: Any, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("up")
    with pytest.raises(PipelineFailed) as caught:
        flows.branches.run({"flag": str(flag)}, cache=False)
    flag.unlink()
    resumed = steward.pipelines.resume(caught.value.run.id)
    assert _by_name(resumed)["plus_one_3"].status.value == "cached"


def test_dataset_reads_inside_a_step_are_lineage_of_its_run(
    any_workspace: Any, tmp_path: Path
) -> None:
    version = steward.data.add("survey", pd.DataFrame({"a": [1, 2, 3]}))
    source = textwrap.dedent(
        """
        import steward

        @steward.step
        def read(name: str) -> int:
            return int(steward.data.get(name).to_pandas()["a"].sum())

        @steward.pipeline
        def reading(name: str = "survey"):
            return read(name)
        """
    )
    record = steward.pipelines.run(f"{_flow_file(tmp_path, 'lineage_flow', source)}:reading")
    step = record.steps[0]
    edges = steward.data.run_lineage(step.run_id)
    assert [(e.dataset, e.version, e.direction) for e in edges] == [("survey", 1, "input")]
    assert [e.run_id for e in version.lineage() if e.direction == "input"] == [step.run_id]


def test_a_literal_frame_argument_is_stored_like_an_output(workspace: Any) -> None:
    frame = pd.DataFrame({"x": [1.0, 3.0]})

    @steward.pipeline
    def literal() -> Any:
        return flows.column_mean(frame, "x")

    first = literal()
    assert steward.pipelines.load(first) == 2.0
    assert literal().steps[0].status.value == "cached"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: flows.stats.build({"rows": 3}), "has no parameter 'rows'"),
        (lambda: flows.branches.build({}), "needs parameter 'flag'"),
        (lambda: flows.stats.build({"n": "many"}), "must be int, not 'many'"),
        (lambda: flows.one.build({"kind": 1, "extra": 2}), "no parameter 'extra'"),
    ],
)
def test_parameters_that_do_not_match_are_refused(call: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()


def test_bad_graphs_are_refused() -> None:
    @steward.pipeline
    def wrong_arguments() -> Any:
        return flows.plus_one(1, 2)

    with pytest.raises(InvalidInput, match="do not match its signature"):
        wrong_arguments.build()

    @steward.pipeline
    def reads_a_handle() -> Any:
        frame = flows.load(3)
        return frame.shape

    with pytest.raises(InvalidInput, match="exists only when the pipeline runs"):
        reads_a_handle.build()

    @steward.pipeline
    def outer() -> Any:
        return inner()

    @steward.pipeline
    def inner() -> Any:
        return outer()

    with pytest.raises(InvalidInput, match=r"calls itself \(outer -> inner -> outer\)"):
        outer.build()

    @steward.pipeline
    def empty() -> None:
        return None

    with pytest.raises(InvalidInput, match="calls no step"):
        empty.build()


def test_a_pipeline_may_call_another() -> None:
    @steward.pipeline
    def outer() -> Any:
        return flows.plus_one(flows.stats(n=3))

    names = [node.name for node in outer.build().nodes]
    assert names == ["load", "column_mean", "column_mean_2", "total", "plus_one"]


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("no_such_module_here:flow", NotFound, "no module named 'no_such_module_here'"),
        ("tests.pipelines.flows:nothing", NotFound, "has no 'nothing'"),
        ("tests.pipelines.flows:load", InvalidInput, "is not a pipeline"),
        ("flows", InvalidInput, "does not name a pipeline"),
        ("missing_file.py:flow", NotFound, "does not exist"),
    ],
)
def test_targets_that_do_not_exist(target: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        steward.pipelines.load_target(target)


def test_small_json_outputs_live_in_the_step_record_not_in_blobs(workspace: Any) -> None:
    """A number a step returns costs no blob file (and no fsync); it reads back, is cached
    and keyed by content as a blob would be, and a large value still goes to a blob."""
    from steward.blobs.digest import digest_bytes
    from steward.pipelines.codec import INLINE_LIMIT

    flows.chain(length=1, offset=100)  # the blobs of any run (its system info) are stored
    before = {blob.digest for blob in workspace.blobs.list_blobs()}
    record = flows.chain(length=3)
    (link,) = [step for step in record.steps if step.name == "link"]
    (output,) = link.outputs
    assert (output.kind, output.inline) == ("json", "0")
    assert output.digest == digest_bytes(b"0", workspace.blobs.algorithm)
    assert {blob.digest for blob in workspace.blobs.list_blobs()} == before
    assert steward.pipelines.load(record) == 2
    assert steward.pipelines.load(record, "link") == 0
    again = flows.chain(length=3)
    assert {step.status.value for step in again.steps} == {"cached"}
    assert steward.pipelines.load(again) == 2

    big = flows.one(kind="long-list")
    (step,) = big.steps
    assert step.outputs[0].inline is None and step.outputs[0].size > INLINE_LIMIT
    assert step.outputs[0].digest in {blob.digest for blob in workspace.blobs.list_blobs()}
    assert steward.pipelines.load(big) == list(range(1000))


def test_writes_are_batched(workspace: Any) -> None:
    """A cold run of N inline steps writes a handful of times (a step's run is created
    with its end), and so does a fully cached rerun, whatever N is."""
    commits = []

    def count(connection: Any) -> None:
        if connection.get_execution_options().get("steward_write"):
            commits.append(1)

    event.listen(workspace.store.engine, "commit", count)
    flows.chain(length=20)
    cold = len(commits)
    commits.clear()
    flows.chain(length=20)
    assert cold <= 5  # the pipeline's run with its params, the pipeline run, the steps, the end
    assert len(commits) <= 4


def test_finished_steps_move_the_audit_head_once_per_write(workspace: Any) -> None:
    """20 steps' runs start and end (40 audit events) in the batch that records them,
    which reads and moves the chain's head once, not once per event."""
    heads: list[str] = []

    def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "audit_head" in statement:
            heads.append(statement)

    event.listen(workspace.store.engine, "before_cursor_execute", count)
    record = flows.chain(length=20)
    event.remove(workspace.store.engine, "before_cursor_execute", count)
    assert len(heads) <= 16
    for step in record.steps:
        trail = audit_events(subject=f"run:{step.run_id}", limit=None, newest_first=False)
        assert [event.action for event in trail] == ["run.start", "run.end"]
    assert verify_audit().ok


def test_a_cached_rerun_looks_its_keys_up_in_one_query(workspace: Any) -> None:
    """A chain's keys depend on each other's outputs, yet a fully cached rerun asks
    the store for cache entries once (the entries its pipeline's latest run used)."""
    lookups: list[str] = []

    def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "pipeline_cache" in statement:
            lookups.append(statement)

    flows.chain(length=12)
    event.listen(workspace.store.engine, "before_cursor_execute", count)
    rerun = flows.chain(length=12)
    assert {step.status.value for step in rerun.steps} == {"cached"}
    assert len(lookups) == 1
    lookups.clear()
    # Shifted by one: the first and last steps are new (one query each); the first's
    # output equals the old second step's, so the ten between match prefetched entries.
    shifted = flows.chain(length=12, offset=1)
    statuses = [step.status.value for step in shifted.steps]
    assert statuses == ["completed"] + ["cached"] * 10 + ["completed"]
    assert len(lookups) == 3
    event.remove(workspace.store.engine, "before_cursor_execute", count)


def test_a_cached_step_that_read_a_dataset_runs_again_when_a_newer_version_arrives(
    any_workspace: Any, tmp_path: Path
) -> None:
    steward.data.add("survey", pd.DataFrame({"a": [1, 2, 3]}))
    source = textwrap.dedent(
        """
        import steward

        @steward.step
        def read(name: str) -> int:
            return int(steward.data.get(name).to_pandas()["a"].sum())

        @steward.step
        def double(value: int) -> int:
            return value * 2

        @steward.pipeline
        def fresh(name: str = "survey"):
            return double(read(name))
        """
    )
    target = f"{_flow_file(tmp_path, 'fresh_flow', source)}:fresh"
    assert steward.pipelines.load(steward.pipelines.run(target)) == 12
    assert {s.status.value for s in steward.pipelines.run(target).steps} == {"cached"}
    steward.data.add("survey", pd.DataFrame({"a": [1, 2, 3, 4]}))
    refreshed = steward.pipelines.run(target)
    assert [s.status.value for s in refreshed.steps] == ["completed", "completed"]
    assert steward.pipelines.load(refreshed) == 20
    assert {s.status.value for s in steward.pipelines.run(target).steps} == {"cached"}


def test_ctrl_c_in_a_step_ends_the_run_killed_and_records_every_step(
    workspace: Any, tmp_path: Path
) -> None:
    source = textwrap.dedent(
        """
        import steward

        @steward.step
        def interrupted(value: int) -> int:
            raise KeyboardInterrupt

        @steward.step
        def after(value: int) -> int:
            return value

        @steward.pipeline
        def stopping():
            return after(interrupted(1))
        """
    )
    (tmp_path / "stopping_flow.py").write_text(source)
    with pytest.raises(KeyboardInterrupt):
        steward.pipelines.run(f"{tmp_path}/stopping_flow.py:stopping")
    record = steward.pipelines.list_runs()[0]
    assert record.status == steward.RunStatus.KILLED
    steps = _by_name(record)
    assert steps["interrupted"].status.value == "failed"
    assert steps["interrupted"].error == "interrupted (Ctrl-C)"
    assert steward.get_run(steps["interrupted"].run_id).status == steward.RunStatus.FAILED
    assert steps["after"].status.value == "skipped"
    assert steward.active_run() is None
