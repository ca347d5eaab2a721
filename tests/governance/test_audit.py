"""The audit log: every change recorded in its own transaction, hash-chained, tamper-evident,
one chain under concurrent writers (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import steward
from steward import models
from steward.cli import app
from steward.errors import Conflict, InvalidInput
from steward.governance.audit import audit_events, export_audit, verify_audit


def _actions(subject: str | None = None) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (e.action, e.actor, e.from_state, e.to_state)
        for e in audit_events(subject=subject, limit=None, newest_first=False)
    ]


def _model_version(name: str = "clf") -> models.ModelVersion:
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(40, 2))
    with steward.start_run():
        info = models.log(LogisticRegression().fit(X, X[:, 0] > 0), input_example=X[:2])
    return models.register(f"runs:/{info.run_id}/model", name)


def test_run_lifecycle_is_attributed(any_workspace: Any) -> None:
    steward.set_experiment("audited")
    with steward.start_run() as run:
        steward.log_metric("loss", 0.5)
    backend = any_workspace.tracking
    backend.delete_runs([run.id])
    backend.delete_runs([run.id])  # already deleted: no second event
    backend.restore_runs([run.id])
    assert _actions(f"run:{run.id}") == [
        ("run.start", "tester", None, "RUNNING"),
        ("run.end", "tester", "RUNNING", "FINISHED"),
        ("run.delete", "tester", "active", "deleted"),
        ("run.restore", "tester", "deleted", "active"),
    ]
    assert audit_events(action="experiment.create")[0].subject == "experiment:audited"


def test_registry_and_data_changes_are_audited(any_workspace: Any) -> None:
    version = _model_version()
    models.approve("clf", version.version, "revue clinique ✓ — Dr Müller 🩺")
    models.set_alias("clf", "production", version.version, reason="go live")
    models.set_card_fields("clf", version.version, intended_use="triage | support: ~1:2")
    models.update_model("clf", description="triage classifier")
    first = steward.data.add("visits", pd.DataFrame({"a": [1, 2]}))
    steward.data.add("visits", pd.DataFrame({"a": [1, 2, 3]}))
    steward.data.set_alias("visits", "training", 1)
    steward.data.set_alias("visits", "training", 2)
    assert _actions("model:clf/1") == [
        ("model.version.register", "tester", None, "pending"),
        ("model.status", "tester", "pending", "approved"),
        ("model.card", "tester", None, None),
    ]
    assert _actions("model:clf@production") == [("model.alias.set", "tester", None, "1")]
    assert [e.reason for e in audit_events(subject="model:clf@production")] == ["go live"]
    assert {e.action for e in audit_events(subject="model:clf")} == {"model.create", "model.update"}
    assert _actions(f"dataset:{first.ref}") == [("dataset.version.create", "tester", None, None)]
    assert _actions("dataset:visits@training") == [
        ("dataset.alias.set", "tester", None, "1"),
        ("dataset.alias.set", "tester", "1", "2"),
    ]
    # The registry's own history reads the same log.
    assert [(e.from_status, e.to_status) for e in models.status_history("clf", 1)] == [
        (None, "pending"),
        ("pending", "approved"),
    ]
    assert verify_audit().ok


def test_monitor_and_alert_changes_are_audited(any_workspace: Any) -> None:
    store = any_workspace.store.monitoring
    store.create_monitor("m", "clf@champion", {"window": "1d"}, "alice")
    store.create_monitor("m", "clf@champion", {"window": "2d"}, "bob", replace=True)
    alert = store.fire(
        source="m",
        rule="drift",
        expression="drift.share > 0.3",
        severity="warning",
        metric="drift.share",
        value=0.5,
        threshold=0.3,
        message="drifted",
        actor="agent",
    )
    store.acknowledge(alert.id[:8], "carol")
    store.resolve(alert.id, 0.1, "agent")
    store.delete_monitor("m", "dave")
    assert _actions("monitor:m") == [
        ("monitor.create", "alice", None, None),
        ("monitor.replace", "bob", None, None),
        ("monitor.delete", "dave", None, None),
    ]
    assert _actions(f"alert:{alert.id}") == [
        ("alert.fire", "agent", None, "firing"),
        ("alert.ack", "carol", None, "acknowledged"),
        ("alert.resolve", "agent", "firing", "resolved"),
    ]


def test_a_refused_change_leaves_no_event(any_workspace: Any) -> None:
    version = _model_version()
    before = verify_audit().events
    with pytest.raises(Conflict):
        models.set_alias("clf", "production", version.version, reason="not approved yet")
    with pytest.raises(InvalidInput):
        any_workspace.store.tracking.end_run(
            steward.search_runs()[0].id, steward.RunStatus.FINISHED, "tester"
        )
    assert verify_audit().events == before


def _tamper(workspace: Any, statement: str) -> None:
    with workspace.store.engine.begin() as connection:
        connection.execute(text(statement))


def _three_events() -> None:
    steward.set_experiment("x")
    with steward.start_run():
        pass


@pytest.mark.parametrize(
    ("statement", "kind", "seq"),
    [
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2", "edited", 2),
        ("UPDATE audit_events SET to_state = 'FAILED' WHERE seq = 3", "edited", 3),
        ("DELETE FROM audit_events WHERE seq = 2", "missing", 3),
        ("DELETE FROM audit_events WHERE seq = 3", "head", 2),
        ("SWAP 1 3", "broken-link", 1),
    ],
    ids=["edited-actor", "edited-state", "deleted-middle", "deleted-last", "reordered"],
)
def test_verify_detects_tampering(any_workspace: Any, statement: str, kind: str, seq: int) -> None:
    _three_events()
    assert verify_audit().ok
    if statement == "SWAP 1 3":  # the first and last events change places
        _tamper(any_workspace, "UPDATE audit_events SET seq = 100 WHERE seq = 1")
        _tamper(any_workspace, "UPDATE audit_events SET seq = 1 WHERE seq = 3")
        _tamper(any_workspace, "UPDATE audit_events SET seq = 3 WHERE seq = 100")
    else:
        _tamper(any_workspace, statement)
    result = verify_audit()
    assert not result.ok
    assert (seq, kind) in [(p.seq, p.kind) for p in result.problems]


def test_rewriting_the_chain_changes_the_head(any_workspace: Any) -> None:
    """A forger who recomputes every hash still ends at a new head: --expect-head catches it."""
    from steward.store.audit_chain import event_hash

    _three_events()
    head = verify_audit().head_hash
    engine = any_workspace.store.engine
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT * FROM audit_events ORDER BY seq")).all()
        previous = "0" * 64
        for row in rows:
            actor = "mallory" if row.seq == 2 else row.actor
            digest = event_hash(
                row.seq,
                row.at,
                actor,
                row.action,
                row.subject,
                row.from_state,
                row.to_state,
                row.reason,
                row.details,
                previous,
            )
            connection.execute(
                text(
                    "UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"
                ),
                {"a": actor, "p": previous, "h": digest, "s": row.seq},
            )
            previous = digest
        connection.execute(text("UPDATE audit_head SET hash = :h"), {"h": previous})
    assert verify_audit().ok  # internally consistent…
    result = CliRunner().invoke(app, ["audit", "verify", "--expect-head", head])
    assert result.exit_code == 1, result.output  # …but not the chain that was noted
    assert "head" in result.output


def _write_runs(store_url: str, home: str, writer: int, count: int) -> None:
    from steward.workspace import open_workspace

    workspace = open_workspace(home=home, store_url=store_url, actor=f"writer-{writer}")
    tracking = workspace.tracking
    experiment = tracking.get_or_create_experiment("concurrent")
    for _ in range(count):
        run = tracking.create_run(experiment.id)
        tracking.end_run(run.id, steward.RunStatus.FINISHED)
    workspace.close()


@pytest.mark.slow
def test_concurrent_writers_make_one_chain(store_url: str, tmp_path: Path) -> None:
    from steward.workspace import open_workspace

    workspace = open_workspace(home=tmp_path / "home", store_url=store_url, actor="setup")
    workspace.tracking.get_or_create_experiment("concurrent")
    context = multiprocessing.get_context("spawn")
    writers, per_writer = 4, 15
    processes = [
        context.Process(
            target=_write_runs, args=(store_url, str(tmp_path / "home"), index, per_writer)
        )
        for index in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    result = workspace.store.audit.verify()
    assert result.ok, result.problems
    assert result.events == 1 + writers * per_writer * 2
    actors = {e.actor for e in workspace.store.audit.events(action="run.end", limit=None)}
    assert actors == {f"writer-{index}" for index in range(writers)}
    workspace.close()


def test_export_and_cli(any_workspace: Any, tmp_path: Path) -> None:
    _three_events()
    count = export_audit(tmp_path / "audit.jsonl")
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert count == len(lines) == 3
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]
    assert json.loads(lines[2])["prev_hash"] == json.loads(lines[1])["hash"]
    runner = CliRunner()
    done = runner.invoke(app, ["audit", "export", "--format", "csv", "-o", str(tmp_path / "a.csv")])
    assert done.exit_code == 0, done.output
    frame = pd.read_csv(tmp_path / "a.csv")
    assert list(frame["action"]) == ["experiment.create", "run.start", "run.end"]
    listed = runner.invoke(app, ["audit", "list", "--action", "run.*", "--json"])
    assert [e["action"] for e in json.loads(listed.stdout)] == ["run.end", "run.start"]
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    _tamper(any_workspace, "UPDATE audit_events SET reason = 'because' WHERE seq = 1")
    failed = runner.invoke(app, ["audit", "verify"])
    assert failed.exit_code == 1
    assert "edited at event 1" in failed.output
    bad = runner.invoke(app, ["audit", "export", "--format", "xml"])
    assert bad.exit_code == 1


def test_migration_folds_the_alias_and_status_history(tmp_path: Path) -> None:
    """A store written before the audit log keeps its alias and status history."""
    from alembic import command
    from alembic.config import Config

    from steward.store.engine import create_store_engine
    from steward.store.metadata import MetadataStore
    from steward.store.migrate import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_store_engine(url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
        connection.execute(
            text(
                "INSERT INTO experiments (id, name, lifecycle, created_at, created_by) "
                "VALUES ('e', 'e', 'active', 1, 'old')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO registered_models (name, created_at, created_by, updated_at) "
                "VALUES ('clf', 1, 'old', 1)"
            )
        )
        for number in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO model_versions (model_pk, version, artifact_path, "
                    "metadata_digest, flavor, status, created_at, created_by, updated_at) VALUES "
                    f"(1, {number}, 'model', 'd', 'sklearn', 'pending', {number}, 'old', 1)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO version_status_events (version_pk, from_status, to_status, "
                    f"actor, at, reason) VALUES ({number}, NULL, 'pending', 'alice', "
                    f"{number * 10}, 'registered')"
                )
            )
        connection.execute(
            text(
                "INSERT INTO alias_events (model_pk, alias, from_version, to_version, actor, at, "
                "reason) VALUES (1, 'champion', NULL, 1, 'bob', 15, 'first'), "
                "(1, 'champion', 1, 2, 'carol', 25, 'better')"
            )
        )
    engine.dispose()
    store = MetadataStore(url)
    history = store.registry.alias_history("clf", "champion")
    assert [(e.from_version, e.to_version, e.actor, e.reason) for e in history] == [
        (None, 1, "bob", "first"),
        (1, 2, "carol", "better"),
    ]
    assert [e.actor for e in store.registry.status_history("clf", 2)] == ["alice"]
    assert [e.action for e in store.audit.events(limit=None, newest_first=False)] == [
        "model.version.register",
        "model.alias.set",
        "model.version.register",
        "model.alias.set",
    ]
    # New changes continue the folded chain.
    store.registry.set_alias("clf", "champion", 1, "dave", "rollback")
    result = store.audit.verify()
    assert result.ok and result.events == 5
    store.close()
