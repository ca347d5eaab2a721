"""``steward models …`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import steward
from steward import models
from steward.cli import app
from steward.errors import Conflict

runner = CliRunner()


@pytest.fixture
def registered(workspace: Any) -> np.ndarray:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    for _ in range(2):
        with steward.start_run():
            models.log(model, input_example=X[:2], register="clf")
    return X


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_list_show_versions(registered: Any) -> None:
    listed = json.loads(_ok("models", "list", "--json"))
    assert listed[0]["name"] == "clf" and listed[0]["latest_version"] == 2
    assert "clf" in _ok("models", "list")
    assert json.loads(_ok("models", "show", "clf/2", "--json"))["version"] == 2
    assert "latest version: 2" in _ok("models", "show", "clf")
    versions = json.loads(_ok("models", "versions", "clf", "--json"))
    assert [v["version"] for v in versions] == [2, 1]


def test_approve_alias_and_history(registered: Any) -> None:
    assert "approved" in _ok("models", "approve", "clf/1", "-m", "reviewed")
    _ok("models", "alias", "clf@production", "1", "-m", "first release")
    assert models.resolve("clf@production").version == 1
    history = json.loads(_ok("models", "alias", "clf@production", "--history", "--json"))
    assert history[0]["reason"] == "first release"
    result = runner.invoke(app, ["models", "alias", "clf@production", "2", "-m", "too early"])
    assert isinstance(result.exception, Conflict)
    assert "rejected" in _ok("models", "reject", "clf/2", "-m", "worse")
    assert "archived" in _ok("models", "archive", "clf/2")
    _ok("models", "alias", "clf@champion", "1")
    _ok("models", "alias", "clf@champion", "--delete")


def test_card_env_check_and_bundle(registered: Any, tmp_path: Path) -> None:
    text = _ok("models", "card", "clf/1", "--intended-use", "Testing the CLI")
    assert "Testing the CLI" in text
    assert "<html" in _ok("models", "card", "clf/1", "--html")
    assert "matches" in _ok("models", "env-check", "clf/1")
    out = tmp_path / "bundle"
    _ok("models", "bundle", "clf/1", "--out", str(out))
    assert {p.name for p in out.iterdir()} >= {
        "model",
        "requirements.lock",
        "Dockerfile",
        "README.md",
        "bundle.json",
    }
    assert "matches" in _ok("models", "env-check", "--bundle", str(out))
