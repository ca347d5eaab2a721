"""Every hint the tool prints works: each hinted command is run as printed and succeeds;
limits are said where they apply; what a monitor names must exist; a failed monitor
run exits 1; a re-add that changes a version's words says so."""

from __future__ import annotations

import json
import re
import shlex
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import steward
from steward import models

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def triage(workspace: Any) -> None:
    """A registered model ``triage`` (version 1) that is not approved."""
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(60, 2)), columns=["age", "temp"])
    model = LogisticRegression().fit(features, (features["age"] > 0).astype(int))
    with steward.start_run():
        models.log(model, input_example=features.head(2), register="triage")


def _run_hint(steward_cli: Cli, hint: str) -> tuple[int, str, str]:
    """Run a printed ``steward …`` command with its '…' placeholder filled in."""
    args = shlex.split(hint.replace("…", "filled in by the test"))
    assert args[0] == "steward", hint
    return steward_cli(*args[1:])


def test_model_card_hints_are_commands_that_work(triage: None, steward_cli: Cli) -> None:
    code, card, _ = steward_cli("models", "card", "triage/1")
    assert code == 0
    hints = re.findall(r"`(steward models card [^`]+)`", card)
    assert len(hints) == 3, card  # intended use, limitations, ethical considerations
    for hint in hints:
        code, _, err = _run_hint(steward_cli, hint)
        assert code == 0, (hint, err)
    code, card, _ = steward_cli("models", "card", "triage/1")
    assert "Not filled in yet" not in card and card.count("filled in by the test") == 3


def test_the_production_refusal_hints_an_approve_that_works(triage: None, steward_cli: Cli) -> None:
    code, _, err = steward_cli("models", "alias", "triage@production", "1", "-m", "go live")
    assert code == 1 and len(err.strip().splitlines()) == 1
    (hint,) = re.findall(r"(steward models approve \S+ -m '…')", err)
    code, out, err = _run_hint(steward_cli, hint)
    assert code == 0 and "approved" in out, err
    code, _, err = steward_cli("models", "alias", "triage@production", "1", "-m", "go live")
    assert code == 0, err


def test_run_id_prefixes_say_their_minimum_length(workspace: Any, steward_cli: Cli) -> None:
    with steward.start_run() as run:
        steward.log_metric("acc", 0.9)
    code, _, err = steward_cli("runs", "show", run.id[:4])
    assert code == 1 and "at least 6 characters" in err and len(err.strip().splitlines()) == 1
    code, out, err = steward_cli("runs", "show", run.id[:6])
    assert code == 0 and run.id in out, err
    code, out, _ = steward_cli("runs", "show", "--help")
    assert "6+ characters" in out


def test_monitor_create_refuses_what_does_not_exist(
    triage: None, steward_cli: Cli, tmp_path: Path
) -> None:
    steward.data.add("train", pd.DataFrame({"age": [1.0, 2.0], "temp": [36.6, 37.0]}))

    def table(spec: str) -> list[str]:
        return ["--table", spec, "--reference", "train:1", "--window", "10 rows"]

    cases = [
        (["--model", "triage/7"], "has no version 7"),
        (["--model", "triage@champion"], "has no alias 'champion'"),
        ([*table(str(tmp_path / "scores-*.parquet"))], "no files match"),
        ([*table(str(tmp_path / "missing-folder"))], "no files match"),
        ([*table("dataset:scores")], "no dataset named 'scores'"),
        (["--model", "triage/1", "--reference", "train:4"], "no version 4"),
    ]
    for options, reason in cases:
        code, _, err = steward_cli("monitor", "create", "m", *options)
        assert code == 1 and reason in err, (options, err)
        assert len(err.strip().splitlines()) == 1
    assert steward.monitoring.list_monitors() == []


def test_monitor_run_exits_1_when_the_window_could_not_be_evaluated(
    workspace: Any, steward_cli: Cli, tmp_path: Path
) -> None:
    rows = pd.DataFrame({"age": np.arange(20.0), "prediction": [0, 1] * 10})
    steward.data.add("train", rows.rename(columns={"prediction": "label"}))
    scores = tmp_path / "scores" / "part-0.parquet"
    scores.parent.mkdir()
    rows.to_parquet(scores)
    table = str(scores.parent / "*.parquet")
    code, _, err = steward_cli("monitor", "create", "nightly", "--table", table,
                               "--reference", "train:1", "--window", "20 rows")  # fmt: skip
    assert code == 0, err
    code, out, err = steward_cli("monitor", "run", "nightly")
    assert code == 0, err

    scores.unlink()  # the job that writes the table broke
    code, out, err = steward_cli("monitor", "run", "nightly", "--json")
    assert code == 1
    assert json.loads(out)["status"] == "error"  # the result is printed and stored
    assert "could not be evaluated: no files match" in err
    code, out, err = steward_cli("monitor", "watch", "--once")
    assert code == 0  # nothing is scheduled, so nothing failed
    assert [r.status for r in steward.monitoring.monitor_results("nightly")] == ["ok", "error"]


def test_a_re_add_that_changes_description_or_tags_updates_them_and_says_so(
    workspace: Any, steward_cli: Cli, tmp_path: Path
) -> None:
    data = tmp_path / "visits.csv"
    data.write_text("id,age\n1,30\n2,41\n")
    first = steward.data.add("visits", data, description="January", tags={"site": "north"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = steward.data.add("visits", data, description="January, checked")
    assert again.version == first.version == 1
    assert again.description == "January, checked" and again.tags == {"site": "north"}
    (warning,) = caught
    assert "unchanged" in str(warning.message) and "'January, checked'" in str(warning.message)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        steward.data.add("visits", data)  # nothing said: nothing changed
        steward.data.add("visits", data, tags={"site": "north"})
    assert caught == []

    code, _, err = steward_cli("data", "add", "visits", str(data), "-t", "site=south",
                                 "-t", "reviewed=yes")  # fmt: skip
    assert code == 0, err
    assert "unchanged" in err and "tag site=south (was north)" in err and "reviewed=yes" in err
    stored = steward.data.get("visits:1")
    assert stored.tags == {"site": "south", "reviewed": "yes"}
    assert stored.description == "January, checked"
    assert [v.version for v in steward.data.log("visits")] == [1]
