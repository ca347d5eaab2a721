"""The registry: versions, aliases and their audit, review status, cards (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import steward
from steward import models
from steward.errors import Conflict, InvalidInput, NotFound


def _train() -> tuple[Any, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), X


def _log_versions(count: int, name: str = "clf") -> list[models.ModelVersion]:
    model, X = _train()
    versions = []
    for index in range(count):
        with steward.start_run(name=f"r{index}") as run:
            run.log_metric("auc", 0.5 + index / 10)
            run.log_param("data.version", f"v{index}")
            info = models.log(model, input_example=X[:2], register=name)
            assert info.version is not None
            versions.append(info.version)
    return versions


def test_versions_are_numbered_and_copy_run_metrics(any_workspace: Any) -> None:
    versions = _log_versions(2)
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].metrics == {"auc": pytest.approx(0.6)}
    assert versions[0].status is models.VersionStatus.PENDING
    assert versions[0].created_by == "tester"
    assert models.get_version("clf", 2).run_id == versions[1].run_id
    assert [v.version for v in models.list_versions("clf")] == [2, 1]
    assert models.get_model("clf").latest_version == 2


def test_alias_set_move_delete_is_audited(any_workspace: Any) -> None:
    _log_versions(2)
    models.set_alias("clf", "champion", 1)
    event = models.set_alias("clf", "champion", 2, reason="better auc")
    assert (event.from_version, event.to_version, event.actor) == (1, 2, "tester")
    assert models.resolve("models:/clf@champion").version == 2
    assert models.load("models:/clf@champion").predict(np.zeros((1, 3))).shape == (1,)
    models.delete_alias("clf", "champion")
    with pytest.raises(NotFound, match="no alias 'champion'"):
        models.resolve("models:/clf@champion")
    history = [(e.from_version, e.to_version, e.reason) for e in models.alias_history("clf")]
    assert history == [(None, 1, None), (1, 2, "better auc"), (2, None, None)]


def test_alias_on_missing_version_is_refused(any_workspace: Any) -> None:
    _log_versions(1)
    with pytest.raises(NotFound, match="no version 7"):
        models.set_alias("clf", "champion", 7)
    with pytest.raises(NotFound, match="no registered model"):
        models.set_alias("nope", "champion", 1)


def test_production_needs_approval_and_a_reason(any_workspace: Any) -> None:
    _log_versions(1)
    with pytest.raises(InvalidInput, match="needs a reason"):
        models.set_alias("clf", "production", 1)
    with pytest.raises(Conflict, match="is pending; only an approved version"):
        models.set_alias("clf", "production", 1, reason="ship it")
    models.approve("clf", 1, "validated on holdout")
    event = models.set_alias("clf", "production", 1, reason="ship it")
    assert event.to_version == 1
    with pytest.raises(Conflict, match="holds the alias 'production'"):
        models.reject("clf", 1, "changed my mind")
    statuses = [(e.from_status, e.to_status) for e in models.status_history("clf", 1)]
    assert statuses == [(None, "pending"), ("pending", "approved")]


def test_reject_and_archive(any_workspace: Any) -> None:
    _log_versions(2)
    assert models.reject("clf", 1, "leaks labels").status is models.VersionStatus.REJECTED
    assert models.archive("clf", 2).status is models.VersionStatus.ARCHIVED
    with pytest.raises(InvalidInput, match="needs a reason"):
        models.approve("clf", 2, "")


def test_search_and_list(any_workspace: Any) -> None:
    _log_versions(1, "alpha")
    _log_versions(2, "beta")
    models.approve("beta", 2, "ok")
    assert [m.name for m in models.list_models()] == ["alpha", "beta"]
    assert [(v.name, v.version) for v in models.search(status="approved")] == [("beta", 2)]
    assert len(models.search("bet")) == 2
    assert models.search(flavor="onnx") == []


def test_invalid_names_are_refused(any_workspace: Any) -> None:
    with pytest.raises(InvalidInput):
        models.create_model("bad@name")
    _log_versions(1)
    with pytest.raises(InvalidInput):
        models.set_alias("clf", "has space", 1)


def test_model_card_markdown_and_html(workspace: Any, tmp_path: Any) -> None:
    _log_versions(1)
    models.set_card_fields(
        "clf", 1, intended_use="Triage support", limitations="Adults only <18 excluded"
    )
    models.approve("clf", 1, "reviewed")
    markdown = models.card("clf", 1)
    assert "# Model card: clf v1" in markdown
    assert "Triage support" in markdown and "Not filled in yet" in markdown
    assert "| data.version | v0 |" in markdown.replace("param ", "")
    assert "| auc | 0.5 |" in markdown
    assert "scikit-learn" in markdown and "pending → approved" in markdown
    page = models.card("clf", 1, format="html")
    assert page.startswith("<!doctype html>") and "Adults only &lt;18 excluded" in page
    md_path, html_path = models.write_card("clf", 1, tmp_path / "cards")
    assert md_path.read_text() == markdown and html_path.is_file()


def test_env_check_compares_with_the_lock(workspace: Any) -> None:
    _log_versions(1)
    assert models.env_check("models:/clf/1") == []


def _corrupt(blobs: Any, version: models.ModelVersion, name: str = "model.skops") -> None:
    """Change one stored blob of a version in place, as disk rot or an intruder would."""
    digest = next(
        item.digest
        for item in steward.list_artifacts(version.run_id)
        if item.path == f"{version.artifact_path}/{name}"
    )
    blob = blobs.path_of(digest)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-8] + b"rotten!!")


def test_approving_or_aliasing_a_version_whose_blobs_changed_is_refused(
    stored_blobs: Any, tmp_path: Any
) -> None:
    from steward.errors import IntegrityError

    good, bad = _log_versions(2)
    models.load("models:/clf/2")  # a verified copy sits in the cache: it must not vouch
    _corrupt(stored_blobs, bad)
    with pytest.raises(IntegrityError, match=r"cannot approve clf v2.*model file model\.skops"):
        models.approve("clf", 2, "looks fine")
    assert models.get_version("clf", 2).status is models.VersionStatus.PENDING
    assert [event.to_status for event in models.status_history("clf", 2)] == ["pending"]
    with pytest.raises(IntegrityError, match=r"model file model\.skops"):
        models.set_alias("clf", "champion", 2)
    with pytest.raises(NotFound):
        models.resolve("models:/clf@champion")
    assert models.alias_history("clf") == []
    with pytest.raises(IntegrityError, match=r"cannot bundle clf v2"):
        models.bundle("models:/clf/2", tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()
    models.approve("clf", 1, "reviewed")
    models.set_alias("clf", "production", 1, reason="release")
    assert models.resolve("models:/clf@production").version == good.version


def test_production_moves_only_to_content_that_still_verifies(stored_blobs: Any) -> None:
    from steward.errors import IntegrityError

    _, second = _log_versions(2)
    models.approve("clf", 1, "reviewed")
    models.approve("clf", 2, "reviewed")
    models.set_alias("clf", "production", 1, reason="release")
    _corrupt(stored_blobs, second)
    with pytest.raises(IntegrityError, match=r"model file model\.skops"):
        models.set_alias("clf", "production", 2, reason="upgrade")
    assert models.resolve("models:/clf@production").version == 1
    assert len(models.alias_history("clf", "production")) == 1


def test_an_unknown_status_is_refused_clearly(any_workspace: Any) -> None:
    with pytest.raises(InvalidInput, match="unknown version status 'bogus'"):
        models.search(status="bogus")
    models.create_model("clf")
    with pytest.raises(InvalidInput, match="unknown version status ''"):
        models.list_versions("clf", status="")


def test_a_rollback_moves_only_to_content_that_still_verifies(
    any_workspace: Any, stored_blobs: Any
) -> None:
    from steward.errors import IntegrityError

    first, _ = _log_versions(2)
    models.set_alias("clf", "champion", 1)
    models.set_alias("clf", "champion", 2)
    assert any_workspace.store.registry.rollback_target("clf", "champion") == 1
    _corrupt(stored_blobs, first)
    with pytest.raises(IntegrityError, match=r"roll 'champion' back to.*model file model\.skops"):
        models.rollback("clf", "v2 misbehaves")
    assert models.resolve("models:/clf@champion").version == 2
    assert len(models.alias_history("clf", "champion")) == 2


def test_a_rollback_checked_against_a_target_that_moved_changes_nothing(
    stored_metadata: Any,
) -> None:
    _log_versions(3)
    for version in (1, 2, 3):
        models.set_alias("clf", "champion", version)
    store = stored_metadata.registry  # the store itself (a server pins its own check)
    checked = store.rollback_target("clf", "champion")
    assert checked == 2
    models.set_alias("clf", "champion", 1)  # someone moves it meanwhile
    with pytest.raises(steward.Conflict, match="moved while its rollback was checked"):
        store.rollback_alias("clf", "champion", "tester", "too late", to_version=checked)
    assert models.resolve("models:/clf@champion").version == 1
