"""The ray executor on real Ray: one local 2-CPU cluster shared by the module's tests,
and for faults a separate cluster that is killed, or addresses that never answer."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.errors import PipelineFailed, Unavailable
from tests.pipelines import flows
from tests.pipelines.helpers import kill_when_started, steward_cli
from tests.services import ray_head, wait_until

pytest.importorskip("ray")


RESOURCES_FLOW = """
import os

import steward


@steward.step(resources={"num_cpus": 2})
def wide() -> dict:
    import ray

    return {
        "pid": os.getpid(),
        "assigned": ray.get_runtime_context().get_assigned_resources(),
        "niceness": os.nice(0),
    }


@steward.step(resources={"num_cpus": 3})
def too_wide() -> int:
    return 1


@steward.pipeline
def asking():
    return wide()


@steward.pipeline
def asking_too_much():
    return too_wide()
"""

SLOW_FLOW = """
import os
import time
from pathlib import Path

import steward


@steward.step
def quick(value: int) -> int:
    return value + 1


@steward.step
def slow(value: int, marker: str, release: str) -> int:
    Path(marker).write_text(str(os.getpid()))
    while not Path(release).exists():
        time.sleep(0.05)
    return value * 10


@steward.pipeline
def losing(marker: str, release: str):
    return slow(quick(1), marker, release)  # quick is done and recorded before slow starts
"""


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """One local Ray cluster with 2 CPUs for the module (started as Steward starts one)."""
    import ray

    from steward.pipelines.ray import connect

    os.environ["RAY_AUTH_MODE"] = "disabled"
    address = connect(num_cpus=2)
    try:
        yield address
    finally:
        ray.shutdown()


def test_steps_run_as_ray_tasks_with_their_resources(
    ray_cluster: str, workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "resources_flow.py").write_text(RESOURCES_FLOW)
    record = steward.pipelines.run(f"{tmp_path}/resources_flow.py:asking", executor="ray")
    result = steward.pipelines.load(record)
    assert result["assigned"] == {"CPU": 2.0}
    assert result["pid"] != os.getpid()
    # A local cluster started for the run works at the driver's priority (Ray's
    # default niceness of 15 let any other load on the machine starve the steps).
    assert result["niceness"] == os.nice(0)
    assert " ray:" in (record.steps[0].worker or "")

    with pytest.raises(PipelineFailed, match=r"asks for num_cpus=3 and the whole cluster has 2"):
        steward.pipelines.run(f"{tmp_path}/resources_flow.py:asking_too_much", executor="ray")

    (tmp_path / "meeting").mkdir()
    met = flows.meeting.run({"folder": str(tmp_path / "meeting")}, executor="ray")
    assert steward.pipelines.load(met) == [True, True]  # the two ran side by side
    flows.fan_out.run({"width": 2, "seconds": 0.1}, executor="ray")
    again = flows.fan_out.run({"width": 2, "seconds": 0.1}, executor="ray")
    assert {step.status.value for step in again.steps} == {"cached"}


def test_ray_workers_read_and_write_through_s3(
    ray_cluster: str, s3_blob_url: str, s3_options: dict[str, str], tmp_path: Path
) -> None:
    from steward.workspace import open_workspace, use_workspace

    workspace = open_workspace(
        home=tmp_path / "home", blob_url=s3_blob_url, blob_options=s3_options, actor="tester"
    )
    use_workspace(workspace)
    try:
        record = flows.training.run({"n": 50}, executor="ray")
        steps = {step.name: step for step in record.steps}
        for output in steps["split"].outputs:
            assert workspace.blobs.exists(output.digest)
        assert workspace.blobs.url.startswith("s3://")
        assert steward.pipelines.load(record)["accuracy"] > 0.9
        assert steward.pipelines.load(record, "fit").predict(
            steward.pipelines.load(record, "split", "features")
        ).shape == (50,)
    finally:
        use_workspace(None)
        workspace.close()


def test_a_killed_ray_worker_fails_its_step_and_resume_completes(
    ray_cluster: str, workspace: Any, tmp_path: Path
) -> None:
    pid_file, release = tmp_path / "pid", tmp_path / "release"

    killer = kill_when_started(pid_file)
    with pytest.raises(PipelineFailed) as caught:
        flows.killable.run({"pid_file": str(pid_file), "release": str(release)}, executor="ray")
    killer.join()
    step = caught.value.run.step("wait_to_be_killed")
    assert step.status.value == "failed"
    assert step.error.startswith("WorkerLost: the Ray worker running step 'wait_to_be_killed'")
    release.write_text("go")
    resumed = steward.pipelines.resume(caught.value.run.id)
    assert resumed.status == steward.RunStatus.FINISHED


def test_an_address_that_does_not_answer_fails_fast_naming_it(tmp_path: Path) -> None:
    (tmp_path / "resources_flow.py").write_text(RESOURCES_FLOW)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused = f"127.0.0.1:{closed.getsockname()[1]}"
    result = steward_cli(tmp_path / "home", tmp_path, "pipeline", "run", "resources_flow:asking",
                      "-x", "ray", "--ray-address", refused)  # fmt: skip
    assert result.returncode == 1
    assert f"no Ray cluster answers at {refused} (Connection refused)" in result.stderr
    with socket.socket() as silent:  # accepts connections, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        result = steward_cli(tmp_path / "home", tmp_path, "pipeline", "run",
                          "resources_flow:asking", "-x", "ray", "--ray-address", address,
                          STEWARD_RAY_CONNECT_TIMEOUT="3")  # fmt: skip
    assert result.returncode == 1
    assert f"no Ray cluster answers at {address} (no answer within 3 s)" in result.stderr
    listed = steward_cli(tmp_path / "home", tmp_path, "pipeline", "list", "--json")
    assert json.loads(listed.stdout) == []  # nothing was recorded


def test_joining_a_second_cluster_from_one_process_is_refused(ray_cluster: str) -> None:
    from steward.pipelines.ray import connect

    assert connect() == ray_cluster
    with pytest.raises(Unavailable, match="already connected to the Ray cluster"):
        connect("127.0.0.1:1")


@pytest.mark.slow
def test_a_cluster_lost_mid_run_fails_the_run_and_resume_completes(tmp_path: Path) -> None:
    (tmp_path / "losing_flow.py").write_text(SLOW_FLOW)
    marker, release = tmp_path / "marker", tmp_path / "release"
    home = tmp_path / "home"
    # A short folder: Ray's Unix sockets live under it (paths of at most 107 bytes).
    ray_dir = tempfile.mkdtemp(prefix="sray", dir="/tmp")
    with ray_head(ray_dir, num_cpus=2) as (address, kill):
        outcome: dict[str, Any] = {}

        def drive() -> None:
            outcome["result"] = steward_cli(
                home, tmp_path, "pipeline", "run", "losing_flow:losing",
                "-p", f"marker={marker}", "-p", f"release={release}",
                "-x", "ray", "--ray-address", address,
            )  # fmt: skip

        driver = threading.Thread(target=drive)
        driver.start()
        assert wait_until(marker.exists, timeout=180)
        kill()
        driver.join(timeout=240)
    result = outcome["result"]
    assert result.returncode == 1, result.stderr
    assert "WorkerLost: the Ray worker running step 'slow' was lost" in result.stderr
    run = json.loads(steward_cli(home, tmp_path, "pipeline", "list", "--json").stdout)[0]
    assert run["status"] == "FAILED"
    assert {s["name"]: s["status"] for s in run["steps"]} == {
        "quick": "completed",
        "slow": "failed",
    }

    release.write_text("go")
    resumed = steward_cli(home, tmp_path, "pipeline", "resume", run["id"], "--json")  # local Ray
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert {s["name"]: s["status"] for s in data["steps"]} == {
        "quick": "cached",
        "slow": "completed",
    }


def test_batch_scoring_on_ray_spreads_units_over_workers(
    ray_cluster: str, workspace: Any, tmp_path: Path
) -> None:
    from tests.pipelines.test_scoring import inputs, make_model

    make_model()
    inputs(tmp_path / "in", rows=900)
    result = steward.pipelines.score(
        "models:/triage@champion", str(tmp_path / "in"), str(tmp_path / "out"),
        executor="ray", workers=2, chunk_rows=100,
    )  # fmt: skip
    assert (result.rows, result.executor) == (900, "ray")
    import pandas as pd

    scored = pd.read_parquet(tmp_path / "out")
    assert sorted(scored["id"]) == list(range(900)) and scored["request_id"].is_unique
    assert len(steward.serving.read_predictions("triage")) == 900
