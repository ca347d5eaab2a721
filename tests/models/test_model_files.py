"""A model's files are untrusted: descriptor paths, ONNX external data, cache links, bad files."""

from __future__ import annotations

import gzip
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

import steward
from steward import models
from steward.errors import StewardError, UnsafeModel
from steward.models.package import save_model
from tests.models.helpers import ScaledSum, edit_descriptor, replace_sealed


def _forest() -> tuple[RandomForestClassifier, np.ndarray]:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int)
    return RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y), X


# -- descriptor paths ------------------------------------------------------------------


def _set_file(path: str) -> Any:
    return lambda descriptor: descriptor["flavor_info"].update(file=path)


def _climb(descriptor: dict[str, Any]) -> None:
    descriptor["files"]["../../secret"] = descriptor["files"]["model.skops"]


DESCRIPTOR_EDITS = {
    "dotdot": (_set_file("../outside.skops"), r"flavor_info\.file"),
    "absolute": (_set_file("/etc/passwd"), r"flavor_info\.file"),
    "backslash": (_set_file("sub\\model.skops"), r"flavor_info\.file"),
    "nul": (_set_file("model\x00.skops"), r"flavor_info\.file"),
    "not-normal": (_set_file("./model.skops"), r"flavor_info\.file"),
    "unsealed": (_set_file("unsealed.skops"), "not one of the model's sealed files"),
    "files-climb": (_climb, r"files\['\.\./\.\./secret'\]"),
}


@pytest.mark.parametrize("case", sorted(DESCRIPTOR_EDITS))
def test_a_descriptor_path_outside_its_sealed_files_is_refused(tmp_path: Path, case: str) -> None:
    edit, message = DESCRIPTOR_EDITS[case]
    model, _ = _forest()
    folder = tmp_path / "bundle" / "model"
    save_model(model, folder)
    for planted in (tmp_path / "bundle" / "outside.skops", folder / "unsealed.skops"):
        planted.write_bytes((folder / "model.skops").read_bytes())
    edit_descriptor(folder, edit)
    with pytest.raises(UnsafeModel, match=message):
        models.load_bundle(folder)


def test_python_model_artifacts_stay_inside_the_folder(tmp_path: Path) -> None:
    weights = tmp_path / "weights.txt"
    weights.write_text("1 1 1")
    folder = tmp_path / "bundle" / "model"
    save_model(ScaledSum(1.0), folder, artifacts={"weights": str(weights)})
    assert models.load_bundle(folder).predict([[1, 1, 1]])[0] == 3.0
    (tmp_path / "bundle" / "outside.txt").write_text("100 100 100")

    def point_outside(descriptor: dict[str, Any]) -> None:
        descriptor["flavor_info"]["artifacts"]["weights"] = "../outside.txt"

    edit_descriptor(folder, point_outside)
    with pytest.raises(UnsafeModel, match=r"flavor_info\.artifacts\['weights'\]"):
        models.load_bundle(folder)


def test_a_linked_model_file_is_refused(tmp_path: Path) -> None:
    model, _ = _forest()
    folder = tmp_path / "model"
    save_model(model, folder)
    real = tmp_path / "elsewhere.skops"
    (folder / "model.skops").rename(real)
    (folder / "model.skops").symlink_to(real)
    with pytest.raises(StewardError, match="symbolic link"):
        models.load_bundle(folder)


# -- ONNX external data ----------------------------------------------------------------


def _external_graph(location: str, length: int = 16) -> Any:
    """A graph adding an int32 initializer kept in external data at ``location`` to its input."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    weights = TensorProto(name="W", data_type=TensorProto.INT32, dims=[length // 4])
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("length", str(length))):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    shape = [1, length // 4]
    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Y"])],
        "leak",
        [helper.make_tensor_value_info("X", TensorProto.INT32, shape)],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, shape)],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    assert isinstance(model, onnx.ModelProto)
    return model


def test_onnx_external_data_cannot_read_the_metadata_store(workspace: Any) -> None:
    pytest.importorskip("onnxruntime")
    store = Path(workspace.settings.home) / "steward.db"
    cwd_relative = os.path.relpath(store, Path.cwd())
    for location in (str(store), "../../../steward.db", cwd_relative):
        with steward.start_run():
            info = models.log(_external_graph(location, 16))
        assert store.is_file() and store.stat().st_size >= 16
        with pytest.raises(UnsafeModel, match="external data") as refused:
            models.load(info.uri)
        assert repr(location) in str(refused.value)


def test_onnx_external_data_inside_the_folder_loads(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(np.arange(4, dtype="<i4").tobytes())
    save_model(_external_graph("weights.bin"), folder)
    loaded = models.load_bundle(folder)
    np.testing.assert_array_equal(
        loaded.native.predict(np.ones((1, 4), dtype=np.int32)), [[1, 2, 3, 4]]
    )
    (tmp_path / "loose.bin").write_bytes(b"\0" * 16)
    edit_descriptor(folder, lambda d: d["files"].pop("weights.bin"))
    with pytest.raises(UnsafeModel, match="not one of the model's verified files"):
        models.load_bundle(folder)


# -- the model cache -------------------------------------------------------------------


def _logged(workspace: Any) -> tuple[models.ModelInfo, Path]:
    model, _ = _forest()
    with steward.start_run():
        info = models.log(model)
    cache = models.load(info.uri).folder
    return info, cache


def test_loading_never_writes_through_a_link_in_the_cache(workspace: Any, tmp_path: Path) -> None:
    info, cache = _logged(workspace)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    other = tmp_path / "other.txt"
    other.write_text("also precious")
    (cache / "steward-model.json").unlink()
    (cache / "steward-model.json").symlink_to(victim)
    (cache / "model.skops").unlink()
    (cache / "model.skops").symlink_to(other)
    loaded = models.load(info.uri)
    assert victim.read_text() == "precious" and other.read_text() == "also precious"
    assert not (cache / "steward-model.json").is_symlink()
    assert not (cache / "model.skops").is_symlink()
    assert loaded.native is not None


def test_a_linked_cache_folder_is_replaced_not_written_into(workspace: Any, tmp_path: Path) -> None:
    import shutil

    info, cache = _logged(workspace)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(cache)
    cache.symlink_to(outside, target_is_directory=True)
    models.load(info.uri)
    assert list(outside.iterdir()) == []
    assert cache.is_dir() and not cache.is_symlink()


# -- damaged and disguised files -------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


BAD_FILES = {
    "empty": b"",
    "text": b"this is not a model\n",
    "gzip": gzip.compress(b"not a model at all"),
    "zip-without-schema": _zip({"other.txt": b"x"}),
    "zip-schema-not-utf8": _zip({"schema.json": b"\xff\xfe\xfa"}),
    "zip-schema-not-json": _zip({"schema.json": b"{nope"}),
    "zip-schema-malformed": _zip(
        {"schema.json": json.dumps({"__loader__": "ObjectNode"}).encode()}
    ),
    "json": b'{"learner": 3}',
    "not-utf8": b"\xff\xfe\x00\x01binary",
    "protobuf-garbage": bytes(range(256)) * 4,
}


def _flavored(kind: str, folder: Path) -> str:
    """Save a small model of flavor ``kind`` into ``folder``; return its model file's name."""
    model, X = _forest()
    if kind == "sklearn":
        save_model(model, folder)
    elif kind == "onnx":
        skl2onnx = pytest.importorskip("skl2onnx")
        save_model(skl2onnx.to_onnx(model, X[:1].astype(np.float32)), folder)
    elif kind in ("xgboost", "lightgbm"):
        library = pytest.importorskip(kind)
        booster = (
            library.XGBClassifier(n_estimators=2)
            if kind == "xgboost"
            else library.LGBMClassifier(n_estimators=2, verbose=-1)
        )
        save_model(booster.fit(X, X[:, 0] > 0), folder)
    else:
        weights = folder.parent / "weights.txt"
        weights.write_text("1 2 3")
        save_model(ScaledSum(2.0), folder, artifacts={"weights": str(weights)})
    return str(json.loads((folder / "steward-model.json").read_text())["flavor_info"]["file"])


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        (kind, content)
        for kind in ("sklearn", "onnx", "xgboost", "lightgbm", "pyfunc")
        for content in sorted(BAD_FILES)
        if (kind, content) != ("pyfunc", "json")  # a JSON object is a valid PythonModel state
    ],
)
def test_a_damaged_or_disguised_model_file_is_a_steward_error_naming_it(
    tmp_path: Path, kind: str, content: str
) -> None:
    folder = tmp_path / "model"
    name = _flavored(kind, folder)
    replace_sealed(folder, name, BAD_FILES[content])
    with pytest.raises(StewardError) as refused:
        models.load_bundle(folder)
    assert name in str(refused.value)


def test_a_damaged_onnx_export_is_a_steward_error(tmp_path: Path) -> None:
    pytest.importorskip("skl2onnx")
    model, X = _forest()
    folder = tmp_path / "model"
    save_model(model, folder, onnx=True, input_example=X[:3])
    export = json.loads((folder / "steward-model.json").read_text())["onnx"]["file"]
    replace_sealed(folder, export, BAD_FILES["protobuf-garbage"])
    with pytest.raises(StewardError, match=export):
        models.load_bundle(folder, backend="onnx")
    assert models.load_bundle(folder).predict(X[:2]) is not None


def test_a_damaged_descriptor_is_a_steward_error(tmp_path: Path) -> None:
    model, _ = _forest()
    folder = tmp_path / "model"
    save_model(model, folder)
    for content in (b"\xff\xfe", b"[]", b'{"flavor": "sklearn", "flavor_info": {}}'):
        (folder / "steward-model.json").write_bytes(content)
        with pytest.raises(StewardError, match=r"steward-model\.json"):
            models.load_bundle(folder)
    (folder / "steward-model.json").write_text(
        json.dumps(
            {
                "flavor": "sklearn",
                "flavor_info": {"file": "model.skops"},
                "files": {"model.skops": {"sha256": "x"}},
                "environment": {"python_version": "3.11"},
                "signature": "not a signature",
            }
        )
    )
    with pytest.raises(StewardError, match=r"steward-model\.json"):
        models.load_bundle(folder)
