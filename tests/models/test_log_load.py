"""Logging and loading models: flavors, safe formats, digests, refusals."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import steward
from steward import models
from steward.errors import IntegrityError, InvalidInput, UnsafeModel
from tests.models.helpers import CreatesFile, EvilState, ScaledSum, frame


def _log(model: Any, **kwargs: Any) -> models.ModelInfo:
    with steward.start_run():
        return models.log(model, **kwargs)


def _numeric(rows: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(rows, 6))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=10, random_state=0),
        HistGradientBoostingClassifier(max_iter=10),
    ],
    ids=["random-forest", "hist-gradient-boosting"],
)
def test_tree_models_round_trip_without_a_trust_list(workspace: Any, estimator: Any) -> None:
    X, y = _numeric()
    estimator.fit(X, y)
    info = _log(estimator, input_example=X[:3], register="trees")
    assert info.flavor == "sklearn"
    assert info.metadata.flavor_info["serialization"] == "skops"
    loaded = models.load("models:/trees/1")
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), estimator.predict_proba(X))


def test_pipeline_with_column_transformer_round_trips(workspace: Any) -> None:
    X, y = frame()
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["age", "dose"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["site"]),
            ]
        ),
        RandomForestClassifier(n_estimators=5, random_state=0),
    ).fit(X, y)
    info = _log(pipeline, input_example=X.head(3))
    loaded = models.load(info.uri)
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    records = X.head(2).to_dict(orient="records")
    np.testing.assert_array_equal(loaded.predict(records), pipeline.predict(X.head(2)))
    with pytest.raises(InvalidInput, match="missing required column"):
        loaded.predict({"age": 30, "dose": 1.0})


def test_regressor_has_no_predict_proba(workspace: Any) -> None:
    X, y = _numeric(50)
    info = _log(LinearRegression().fit(X, y.astype(float)), input_example=X[:2])
    loaded = models.load(info.uri)
    np.testing.assert_allclose(loaded.predict(X[:3]), LinearRegression().fit(X, y).predict(X[:3]))
    with pytest.raises(InvalidInput, match="no predict_proba"):
        loaded.predict_proba(X[:1])


def test_environment_lock_records_python_and_flavor_pins(workspace: Any) -> None:
    import platform

    import sklearn

    X, y = _numeric(50)
    info = _log(RandomForestClassifier(n_estimators=2).fit(X, y), input_example=X[:1])
    lock = info.metadata.environment
    assert lock.python_version == platform.python_version()
    assert lock.packages["scikit-learn"] == sklearn.__version__
    assert "pytest" not in lock.packages and "mlsteward" not in lock.packages
    assert models.check_environment(lock) == []
    changed = models.EnvironmentLock("3.0.1", {"scikit-learn": "0.1", "not-installed-pkg": "1"})
    found = {m.what: m.severity for m in models.check_environment(changed)}
    assert found == {"python": "python", "scikit-learn": "version", "not-installed-pkg": "missing"}


def test_python_model_is_stored_by_reference_with_artifacts(workspace: Any, tmp_path: Path) -> None:
    weights = tmp_path / "weights.txt"
    weights.write_text("1 2 3")
    model = ScaledSum(scale=2.0)
    info = _log(model, input_example=np.ones((1, 3)), artifacts={"weights": str(weights)})
    assert info.flavor == "pyfunc"
    assert info.metadata.flavor_info["serialization"] == "reference"
    assert "model.pkl" not in info.metadata.files
    loaded = models.load(info.uri)
    np.testing.assert_allclose(loaded.predict([[1, 1, 1]]), [12.0])


def test_unknown_flavor_suggests_python_model(workspace: Any) -> None:
    with pytest.raises(InvalidInput, match="PythonModel"):
        _log(object())


def test_unpicklable_object_is_a_clear_error(workspace: Any) -> None:
    class Holder:
        def __init__(self) -> None:
            self.lock = threading.Lock()

        def predict(self, data: Any) -> Any:
            return data

    with pytest.raises(InvalidInput, match="cannot pickle"):
        _log(Holder(), trust_pickle=True)


def test_python_model_in_main_needs_trust_pickle(workspace: Any) -> None:
    class Local(models.PythonModel):
        def predict(self, model_input: Any) -> Any:
            return model_input

    with pytest.raises(InvalidInput, match="trust_pickle=True"):
        _log(Local())
    info = _log(Local(), trust_pickle=True)
    assert models.load(info.uri, trust=True).predict([1, 2]) == [1, 2]


def test_malicious_pickle_is_refused_without_trust(workspace: Any, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    info = _log(CreatesFile(str(target)), trust_pickle=True)
    assert not target.exists()
    with pytest.raises(UnsafeModel, match="trust=True"):
        models.load(info.uri)
    assert not target.exists(), "loading without trust executed the payload"
    models.load(info.uri, trust=True)
    assert target.exists(), "trust=True should load (and so run) the pickle"


def test_raw_pickle_artifact_is_refused_without_trust(workspace: Any, tmp_path: Path) -> None:
    import pickle

    target = tmp_path / "pwned-raw"
    payload = tmp_path / "model.pkl"
    payload.write_bytes(pickle.dumps(CreatesFile(str(target))))
    with steward.start_run() as run:
        run.log_artifact(payload, "raw/model.pkl")
    with pytest.raises(UnsafeModel):
        models.load(f"runs:/{run.id}/raw/model.pkl")
    assert not target.exists()


def test_malicious_skops_type_is_refused(workspace: Any, tmp_path: Path) -> None:
    import skops.io

    from steward.models.flavors.sklearn import SklearnFlavor

    target = tmp_path / "pwned-skops"
    folder = tmp_path / "evil"
    folder.mkdir()
    skops.io.dump({"payload": EvilState(str(target))}, folder / "model.skops")
    info = {"file": "model.skops", "serialization": "skops"}
    with pytest.raises(UnsafeModel, match=r"tests\.models\.helpers\.EvilState"):
        SklearnFlavor().load(folder, info, trust=frozenset(), files=["model.skops"])
    assert not target.exists()


def test_changed_blob_is_refused(workspace: Any) -> None:
    X, y = _numeric(50)
    info = _log(RandomForestClassifier(n_estimators=2).fit(X, y), input_example=X[:1])
    digest = next(
        item.digest
        for item in steward.list_artifacts(info.run_id)
        if item.path == "model/model.skops"
    )
    blob = workspace.blobs.path_of(digest)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError):
        models.load(info.uri)


def test_changed_cached_file_is_fetched_again(workspace: Any) -> None:
    X, y = _numeric(50)
    model = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    info = _log(model, input_example=X[:1])
    first = models.load(info.uri)
    (first.folder / "model.skops").write_bytes(b"tampered")
    again = models.load(info.uri)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_onnx_export_agrees_and_serves(workspace: Any) -> None:
    pytest.importorskip("skl2onnx")
    X, y = _numeric(200)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    info = _log(forest, input_example=X[:5], onnx=True, onnx_check_data=X, register="fast")
    assert info.metadata.onnx is not None and info.metadata.onnx["rows_checked"] == 200
    loaded = models.load("models:/fast/1", backend="onnx")
    np.testing.assert_array_equal(loaded.predict(X), forest.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), forest.predict_proba(X), atol=1e-6)


def test_onnx_model_proto_is_its_own_flavor(workspace: Any) -> None:
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = _numeric(100)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    proto = skl2onnx.to_onnx(forest, X[:1], options={"zipmap": False})
    info = _log(proto, input_example=X[:2].astype(np.float32))
    assert info.flavor == "onnx"
    loaded = models.load(info.uri)
    np.testing.assert_array_equal(loaded.predict(X.astype(np.float32)).shape, (100,))


def test_log_needs_an_active_run(workspace: Any) -> None:
    with pytest.raises(InvalidInput, match="active run"):
        models.log(RandomForestClassifier())


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosting_libraries_round_trip(workspace: Any, library: str) -> None:
    module = pytest.importorskip(library)
    X, y = _numeric(200)
    classifier = (
        module.XGBClassifier(n_estimators=5)
        if library == "xgboost"
        else module.LGBMClassifier(n_estimators=5, verbose=-1)
    ).fit(X, y)
    info = _log(classifier, input_example=X[:2])
    assert info.flavor == library
    loaded = models.load(info.uri)
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))
