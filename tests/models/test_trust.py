"""What a skops model may hold: Steward trusts estimator classes and data types, the user the rest.

Never the model: a descriptor cannot widen the trust set, and a callable a
model holds (a function, a method, a builtin) runs only if the loading user
listed it, through the SDK or ``steward serve``.
"""

from __future__ import annotations

import functools
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import dump_svmlight_file
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import steward
from steward import models
from steward.errors import InvalidInput, UnsafeModel
from steward.models.package import save_model
from tests.models.helpers import edit_descriptor, replace_sealed
from tests.services import wait_until

DUMP = "sklearn.datasets._svmlight_format_io.dump_svmlight_file"


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = np.abs(rng.normal(size=(60, 3)))
    return X, (X[:, 0] > X[:, 1]).astype(int)


def _holding(func: Any, **kw_args: Any) -> Any:
    """A fitted pipeline whose first step calls ``func`` on every predict."""
    X, y = _data()
    pipeline = make_pipeline(FunctionTransformer(), LogisticRegression()).fit(X, y)
    pipeline.steps[0] = (
        "functiontransformer",
        FunctionTransformer(func, kw_args=kw_args or None, validate=False),
    )
    return pipeline


def _writes_file(victim: Path) -> Any:
    """The reported attack: a scikit-learn function that overwrites ``victim`` on predict."""
    return _holding(dump_svmlight_file, y=np.zeros(60), f=str(victim))


def _log(model: Any, register: str | None = None, example: Any = None) -> models.ModelInfo:
    with steward.start_run():
        return models.log(model, register=register, input_example=example)


def test_a_scikit_learn_function_is_refused_by_default_and_named(
    workspace: Any, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    info = _log(_writes_file(victim))
    with pytest.raises(UnsafeModel) as refused:
        models.load(info.uri)
    message = str(refused.value)
    assert DUMP in message and "Nothing was executed" in message
    assert f"trust=['{DUMP}']" in message and f"--trust-type {DUMP}" in message
    assert victim.read_text() == "precious"
    X, _ = _data()
    loaded = models.load(info.uri, trust=[DUMP])  # the user's word, and only that, widens it
    with pytest.raises(ValueError):  # the pipeline's next step gets None: the file was written
        loaded.native.predict(X)
    assert victim.read_text() != "precious"


@pytest.mark.parametrize(
    ("func", "names"),
    [
        (np.log1p, ["numpy.log1p"]),
        (abs, ["builtins.abs"]),
        (LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]).predict, None),
        (functools.partial(np.round, decimals=1), ["functools.partial", "numpy.round"]),
    ],
    ids=["ufunc", "builtin", "bound-method", "partial"],
)
def test_every_callable_a_model_holds_needs_the_user(
    workspace: Any, func: Any, names: list[str] | None
) -> None:
    info = _log(_holding(func))
    with pytest.raises(UnsafeModel, match="callables") as refused:
        models.load(info.uri)
    from steward.models.flavors.skops_trust import holdings

    held = [h.name for h in holdings(_skops_bytes(info), "model.skops") if h.is_callable]
    assert held, "the audit must see the callable"
    if names is not None:
        assert sorted(held) == sorted(names)
    for name in held:
        assert name in str(refused.value)
    models.load(info.uri, trust=held)


def _skops_bytes(info: models.ModelInfo) -> bytes:
    digest = next(
        item.digest
        for item in steward.list_artifacts(info.run_id)
        if item.path == f"{info.artifact_path}/model.skops"
    )
    return steward.workspace.current_workspace().blobs.get_bytes(digest)


def test_the_descriptor_cannot_widen_what_is_trusted(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    save_model(_holding(eval), folder)

    def trust_builtins(descriptor: dict[str, Any]) -> None:
        descriptor["flavor_info"]["trusted_packages"] = ["builtins", "sklearn", "numpy", "scipy"]
        descriptor["flavor_info"]["trusted"] = ["builtins.eval"]

    edit_descriptor(folder, trust_builtins)
    with pytest.raises(UnsafeModel, match=r"builtins\.eval"):
        models.load_bundle(folder)
    assert models.load_bundle(folder, trust=["builtins.eval"]).native is not None


class Opens:
    """Rebuilt by a plain constructor call: skops stores it as ConstructorFromReduceNode."""

    def __init__(self, path: str, mode: str) -> None:
        self.path, self.mode = path, mode

    def __reduce__(self) -> Any:
        return (Opens, (self.path, self.mode))


def test_a_class_that_opens_files_is_not_a_data_type(tmp_path: Path) -> None:
    """scipy's FortranFile truncates its file when built: trusting 'scipy types' is not enough."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "model"
    X, y = _data()
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    forest.payload = Opens(str(victim), "w")
    save_model(forest, folder)
    skops_file = folder / "model.skops"
    with zipfile.ZipFile(skops_file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    node = _find(schema, "Opens")
    assert node["__loader__"] == "ConstructorFromReduceNode"
    node.update({"__class__": "FortranFile", "__module__": "scipy.io._fortran"})
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(skops_file, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    replace_sealed(folder, "model.skops", skops_file.read_bytes())
    with pytest.raises(UnsafeModel, match=r"scipy\.io\._fortran\.FortranFile"):
        models.load_bundle(folder)
    assert victim.read_text() == "precious"


def _find(schema: Any, class_name: str) -> dict[str, Any]:
    pending = [schema]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if item.get("__class__") == class_name:
                return item
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    raise AssertionError(f"{class_name} is not in the schema")


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.tree._tree.Tree", True),
        ("sklearn.ensemble._forest.RandomForestClassifier", True),
        ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", True),
        ("numpy.ndarray", True),
        ("numpy.dtype", True),
        ("numpy.float64", True),
        ("numpy.random.mtrand.RandomState", True),
        ("scipy.sparse._csr.csr_matrix", True),
        ("collections.OrderedDict", True),
        ("builtins.str", True),
        ("xgboost.sklearn.XGBClassifier", True),
        ("lightgbm.basic.Booster", True),
        ("numpy.memmap", False),  # an array that opens (and creates) files
        ("numpy.lib._npyio_impl.NpzFile", False),
        ("scipy.io._fortran.FortranFile", False),
        ("xgboost.tracker.RabitTracker", False),  # listens on a socket
        ("xgboost.RabitTracker", False),  # a re-export does not count either
        (DUMP, False),  # a function, not a class
        ("sklearn.utils._testing.TempMemmap", False),
        ("builtins.eval", False),
        ("builtins.object", False),
        ("os.system", False),
        ("tests.models.helpers.EvilState", False),
    ],
)
def test_stewards_own_trust_set(name: str, trusted: bool) -> None:
    if name.startswith(("xgboost", "lightgbm")):
        pytest.importorskip(name.split(".")[0])
    from steward.models.flavors.skops_trust import steward_trusts

    assert steward_trusts(name) is trusted


def test_ordinary_models_need_no_trust_list(workspace: Any) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    X, y = _data()
    candidates = [
        GradientBoostingClassifier(n_estimators=3),
        HistGradientBoostingClassifier(max_iter=3),
        KNeighborsClassifier(n_neighbors=3),
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=20),
        GridSearchCV(DecisionTreeClassifier(), {"max_depth": [1, 2]}, cv=2),
        make_pipeline(
            ColumnTransformer([("n", StandardScaler(), [0, 1]), ("c", OneHotEncoder(), [2])]),
            LogisticRegression(),
        ),
    ]
    for estimator in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an MLP stopped after 20 iterations says so
            estimator.fit(np.round(X, 0) if estimator is candidates[-1] else X, y)
        info = _log(estimator)
        assert models.load(info.uri).native is not None, type(estimator).__name__


def test_trust_must_be_names_not_a_string(workspace: Any) -> None:
    info = _log(_holding(np.log1p))
    with pytest.raises(InvalidInput, match="list of dotted names"):
        models.load(info.uri, trust="numpy.log1p")


def test_serve_refuses_by_default_and_takes_trust_types(workspace: Any, tmp_path: Path) -> None:
    from steward.serving.app import create_app
    from steward.serving.config import ServingConfig
    from steward.serving.server import BackgroundServer

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    _log(_writes_file(victim), register="evil")
    models.set_alias("evil", "champion", 1)
    server = BackgroundServer(create_app("models:/evil@champion")).start()
    try:

        def failed() -> bool:
            reply = httpx.get(f"{server.url}/ready", timeout=2)
            return reply.status_code == 503 and "loading failed" in reply.text

        assert wait_until(failed, timeout=60)
        assert DUMP in httpx.get(f"{server.url}/ready").json()["detail"]
        rows = _data()[0][:2].tolist()
        assert httpx.post(f"{server.url}/predict", json={"inputs": rows}).status_code == 503
    finally:
        server.stop()
    assert victim.read_text() == "precious"
    config = ServingConfig(trust=("numpy.log1p",), log_predictions=False)
    frame = pd.DataFrame(_data()[0], columns=["a", "b", "c"])
    _log(_holding(np.log1p), register="logged", example=frame.head(2))
    models.set_alias("logged", "champion", 1)
    trusted = BackgroundServer(create_app("models:/logged@champion", config=config)).start()
    try:
        trusted.wait_ready()
        records = frame.head(2).to_dict(orient="records")
        reply = httpx.post(f"{trusted.url}/predict", json={"inputs": records})
        assert reply.status_code == 200, reply.text
        assert len(reply.json()["predictions"]) == 2
    finally:
        trusted.stop()


def test_cli_serve_has_a_trust_type_flag() -> None:
    from typer.testing import CliRunner

    from steward.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert "--trust-type" in result.output
