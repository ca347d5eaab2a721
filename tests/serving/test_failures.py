"""Models that cannot be served, failed reloads, closed admin routes, refused input shapes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

import steward
from steward.serving import ServingConfig
from tests.serving.conftest import FEATURES, register_model, rows, serve_command


def _corrupt_model_file(version: Any) -> None:
    """Overwrite the stored blob of a version's model file (what a failing disk does), and
    drop the verified copies cached locally (set_alias re-verifies into the cache)."""
    import shutil

    from steward.models.stored import CACHE_DIR
    from steward.workspace import current_workspace

    workspace = current_workspace()
    [item] = [
        item
        for item in workspace.tracking.list_artifacts(version.run_id)
        if item.path.endswith(".skops")
    ]
    path = workspace.blobs.path_of(item.digest)
    os.chmod(path, 0o644)
    path.write_bytes(b"not the model any more")
    shutil.rmtree(Path(workspace.settings.home).joinpath(*CACHE_DIR), ignore_errors=True)


def _one_error_line(done: Any) -> str:
    """The one error message printed (rich folds it at the console width when piped)."""
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert output.count("error:") == 1 and output.startswith("error:"), output
    assert "Traceback" not in output
    return " ".join(output.split())


def test_serve_refuses_at_start_what_it_could_never_load(champion: Any, workspace: Any) -> None:
    home = Path(workspace.settings.home)
    no_export = _one_error_line(serve_command(["clf@champion", "--backend", "onnx"], home))
    assert "no ONNX export" in no_export and "clf v1" in no_export
    not_a_bundle = _one_error_line(serve_command(["/etc"], home))
    assert "not a model bundle" in not_a_bundle
    unknown = _one_error_line(serve_command(["nosuch@champion"], home))
    assert "nosuch" in unknown
    several = _one_error_line(serve_command(["clf@champion", "/etc"], home))
    assert "not a model bundle" in several


def _responses_hide(texts: list[str], *paths: Path) -> None:
    for text in texts:
        for path in paths:
            assert str(path) not in text, text


def test_a_failed_reload_keeps_the_old_version_and_says_so(
    champion: Any, workspace: Any, start_server: Any, tmp_path: Path
) -> None:
    server = start_server("models:/clf@champion", config=ServingConfig(reload_interval_s=0))
    broken = register_model(flip=True)
    steward.models.set_alias("clf", "champion", broken.version)  # verified: content sound
    _corrupt_model_file(broken)  # the disk fails between the alias move and the reload
    reload = httpx.post(f"{server.url}/admin/reload", timeout=60)
    assert reload.status_code == 409, reload.text
    assert "still serving clf/1" in reload.json()["error"]["message"]
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200 and ready.json()["version"] == 1
    assert ready.json()["reload_error"].startswith("primary:")
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'steward_model_reload_failing{model="clf"} 1.0' in metrics
    assert 'steward_model_reload_failures_total{model="clf"} 1.0' in metrics
    predicted = httpx.post(f"{server.url}/predict", json={"inputs": rows(1)})
    assert predicted.json()["version"] == 1
    _responses_hide([reload.text, ready.text, metrics], tmp_path, Path.home())
    steward.models.set_alias("clf", "champion", 1)
    assert httpx.post(f"{server.url}/admin/reload", timeout=60).json()["changed"] == {}
    assert "reload_error" not in httpx.get(f"{server.url}/ready").json()
    assert (
        'steward_model_reload_failing{model="clf"} 0.0' in httpx.get(f"{server.url}/metrics").text
    )


def test_a_model_that_fails_to_load_is_not_healthy(
    champion: Any, workspace: Any, tmp_path: Path
) -> None:
    from steward.serving.app import create_app
    from steward.serving.server import BackgroundServer
    from tests.services import wait_until

    _corrupt_model_file(champion)
    with BackgroundServer(create_app("models:/clf@champion")) as server:
        assert wait_until(lambda: httpx.get(f"{server.url}/health").status_code == 503, 60)
        ready = httpx.get(f"{server.url}/ready")
        assert ready.status_code == 503 and "loading failed" in ready.json()["detail"]
        answer = httpx.post(f"{server.url}/predict", json={"inputs": rows(1)})
        assert answer.status_code == 503
        v2 = httpx.post(f"{server.url}/v2/models/clf/infer", json={"inputs": []})
        _responses_hide(
            [ready.text, answer.text, v2.text, httpx.get(f"{server.url}/health").text], tmp_path
        )


def test_admin_routes_are_closed_to_the_network_by_default(
    champion: Any, start_server: Any
) -> None:
    from starlette.requests import Request

    from steward.errors import PermissionDenied
    from steward.serving.access import check_admin
    from steward.serving.errors import Unauthorized

    server = start_server("models:/clf@champion")
    proxied = httpx.post(f"{server.url}/admin/reload", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403 and "admin token" in proxied.json()["error"]["message"]
    assert httpx.post(f"{server.url}/admin/reload").status_code == 200  # loopback, no proxy

    def request(host: str, headers: list[tuple[bytes, bytes]] | None = None) -> Request:
        scope = {"type": "http", "client": (host, 5000), "headers": headers or []}
        return Request(scope)

    with pytest.raises(PermissionDenied):
        check_admin(request("10.1.2.3"), None)
    check_admin(request("::1"), None)
    with pytest.raises(Unauthorized):
        check_admin(request("127.0.0.1"), "s3cret")
    check_admin(request("10.1.2.3", [(b"authorization", b"Bearer s3cret")]), "s3cret")


def test_input_shapes_refused_with_400(champion: Any, start_server: Any) -> None:
    server = start_server("models:/clf@champion")
    values = [[row[name] for name in FEATURES] for row in rows(2)]
    doubled = {"dataframe_split": {"columns": ["age", "age", "weight", "score"], "data": values}}
    reply = httpx.post(f"{server.url}/invocations", json=doubled)
    assert reply.status_code == 400 and "'age'" in reply.json()["error"]["message"]
    record = dict(rows(1)[0], age=True)
    for body in ({"dataframe_records": [record]}, {"instances": [[True, 1.0, 2.0, 3.0]]}):
        refused = httpx.post(f"{server.url}/invocations", json=body)
        assert refused.status_code == 400, refused.text
        assert "not true/false" in refused.json()["error"]["message"]
    tensor = {"name": "age", "shape": [1], "datatype": "FP64", "data": [True]}
    others = [
        {"name": name, "shape": [1], "datatype": "FP64", "data": [0.5]} for name in FEATURES[1:]
    ]
    v2 = httpx.post(f"{server.url}/v2/models/clf/infer", json={"inputs": [tensor, *others]})
    assert v2.status_code == 400 and "true/false" in v2.json()["error"]
