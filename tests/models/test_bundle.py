"""Bundles: self-contained folders that load and predict with no store at all."""

from __future__ import annotations

import os
import platform
import subprocess
import venv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

import steward
from steward import models
from steward.errors import Conflict, IntegrityError

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
    assert f"FROM python:{platform.python_version()}-slim" in dockerfile
    assert "pip install --no-cache-dir -r /bundle/requirements.lock" in dockerfile
    assert (
        'CMD ["steward", "serve", "/bundle", "--host", "0.0.0.0", "--port", "8080"]' in dockerfile
    )
    lock = (out / "requirements.lock").read_text()
    assert "scikit-learn==" in lock and "mlsteward" not in lock
    assert "bundled" in (out / "README.md").read_text()
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


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bundle_lock_installs_into_a_fresh_venv_and_predicts_the_same(
    workspace: Any, tmp_path: Path
) -> None:
    out, X, expected = _bundle(tmp_path)
    np.save(tmp_path / "X.npy", X)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "-r",
            str(out / "requirements.lock"),
            str(PROJECT_ROOT),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=840,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    script = (
        "import sys, numpy as np, steward.models as m;"
        "b = m.load_bundle(sys.argv[1]);"
        "np.save(sys.argv[3], b.predict_proba(np.load(sys.argv[2])))"
    )
    result_path = tmp_path / "proba.npy"
    run = subprocess.run(
        [str(python), "-c", script, str(out), str(tmp_path / "X.npy"), str(result_path)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    np.testing.assert_allclose(np.load(result_path), expected)
    check = subprocess.run(
        [str(env_dir / "bin" / "steward"), "models", "env-check", "--bundle", str(out)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
    )
    assert "matches" in check.stdout, check.stdout + check.stderr
