"""The ONNX flavor: ``onnx.ModelProto`` stored as ``model.onnx``, run with onnxruntime.

A graph may keep large tensors in *external data* files named by a path
inside the graph. Such a path is the model's, so it is untrusted: every one
must be a clean relative path that names one of the model's own verified
files, and the session then resolves it against the model's folder (never
the working directory). A graph that names any other file is refused before
onnxruntime opens anything.

Sessions are opened from the verified file's path, never from its bytes:
onnxruntime's Python session keeps the bytes it is given for as long as it
lives (5.6 MB for a 100-tree forest). Each session runs on the thread that
calls it (one intra-op thread, no spinning: a server's batcher already gives
each model its own thread, and on a small machine a spinning pool only takes
CPU from the event loop), without a memory arena of its own (1 MB a session,
and no measurable cost: a 1,000-row forest call took 9.1 ms with and 9.3 ms
without).
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from steward.errors import InvalidInput, UnsafeModel, require
from steward.models.flavors import TrustedNames, top_module

MODEL_FILE = "model.onnx"
_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


def _attribute_tensors(attribute: Any) -> Iterator[Any]:
    if attribute.HasField("t"):
        yield attribute.t
    yield from attribute.tensors
    sparse = [attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []
    for tensor in [*sparse, *attribute.sparse_tensors]:
        yield from (tensor.values, tensor.indices)
    graphs = [attribute.g] if attribute.HasField("g") else []
    for graph in [*graphs, *attribute.graphs]:
        yield from _graph_tensors(graph)


def _graph_tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attribute in node.attribute:
            yield from _attribute_tensors(attribute)


def external_data_paths(model_bytes: bytes) -> list[str]:
    """The external-data locations an ONNX graph names (in its graph, subgraphs, functions)."""
    if b"location" not in model_bytes:  # the key every external reference must carry
        return []
    onnx: Any = require("onnx", "onnx", "Checking ONNX external data")
    model = onnx.ModelProto()
    model.ParseFromString(model_bytes)
    tensors = list(_graph_tensors(model.graph))
    for function in model.functions:
        for node in function.node:
            for attribute in node.attribute:
                tensors.extend(_attribute_tensors(attribute))
    locations = []
    for tensor in tensors:
        entries = {entry.key: entry.value for entry in tensor.external_data}
        if entries or tensor.data_location == onnx.TensorProto.EXTERNAL:
            locations.append(entries.get("location", ""))
    return locations


def check_external_data(model_bytes: bytes, model_file: str, files: Collection[str]) -> None:
    """Refuse external data outside the model's verified files.

    Args:
        model_bytes: the graph.
        model_file: its path inside the model folder.
        files: the model folder's verified files.

    Raises:
        UnsafeModel: a location is absolute, climbs out (``..``), or names no verified file.
    """
    from steward.paths import check_relative_path

    locations = external_data_paths(model_bytes)
    base = posixpath.dirname(model_file)
    for location in locations:
        where = f"{model_file}: external data location"
        clean = check_relative_path(location, where, UnsafeModel)
        if (posixpath.join(base, clean) if base else clean) not in files:
            raise UnsafeModel(
                f"refusing to load {model_file}: it reads external data from {location!r}, "
                "which is not one of the model's verified files. Nothing was read."
            )


def session_options(ort: Any) -> Any:
    """The options of every session Steward opens (see the module docstring)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False
    return options


def _contained(folder: Path, model_file: str) -> Path:
    """``folder / model_file`` as a real file inside ``folder`` (no link, no climbing out).

    Raises:
        UnsafeModel: the path leaves the folder or is a link.
    """
    path = folder / model_file
    root = folder.resolve()
    if path.is_symlink() or not path.resolve().is_relative_to(root):
        raise UnsafeModel(
            f"refusing to load {model_file}: it is not a file inside the model's verified "
            "folder. Nothing was read."
        )
    return path.resolve()


def _mentions_external_data(path: Path) -> bool:
    """Whether the graph file holds the key every external reference carries.

    Searched in a read-only mapping of the file: reading a large graph into
    the heap only to search it left the process 1.5-2 MB larger for good.
    """
    import mmap

    with path.open("rb") as handle:
        if not path.stat().st_size:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return mapped.find(b"location") != -1


class OnnxPredictor:
    """An onnxruntime session with ``predict`` (and ``predict_proba`` for classifiers)."""

    def __init__(self, folder: Path, model_file: str, files: Collection[str]) -> None:
        """Open a session over ``folder / model_file``, a verified file of the model.

        Raises:
            UnsafeModel: the graph names external data outside the model's verified files.
        """
        ort: Any = require("onnxruntime", "onnx", "Running ONNX models")
        path = _contained(folder, model_file)
        if _mentions_external_data(path):
            check_external_data(path.read_bytes(), model_file, files)
        self.session = ort.InferenceSession(
            str(path), session_options(ort), providers=["CPUExecutionProvider"]
        )
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.input_dtype = _ONNX_TYPES.get(first.type, "float32")
        self.output_names = [output.name for output in self.session.get_outputs()]
        self.has_proba = len(self.output_names) > 1

    def _run(self, data: Any) -> list[Any]:
        import numpy as np

        array = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.dtype != np.dtype(self.input_dtype):
            array = array.astype(self.input_dtype)
        return list(self.session.run(None, {self.input_name: array}))

    def predict(self, data: Any) -> Any:
        """The first output (labels for classifiers, values for regressors)."""
        result = self._run(data)[0]
        return result.ravel() if result.ndim == 2 and result.shape[1] == 1 else result

    def predict_proba(self, data: Any) -> Any:
        """The second output of a classifier (class probabilities)."""
        if not self.has_proba:
            raise InvalidInput("this ONNX model has no probability output.")
        return self._run(data)[1]

    def predict_with_proba(self, data: Any) -> tuple[Any, Any]:
        """Labels and class probabilities from one run of the graph (it computes both)."""
        if not self.has_proba:
            raise InvalidInput("this ONNX model has no probability output.")
        labels, probabilities = self._run(data)[:2]
        return labels.ravel() if labels.ndim == 2 and labels.shape[1] == 1 else labels, (
            probabilities
        )

    def input_width(self) -> int | None:
        """The declared number of input features, if fixed."""
        shape = self.session.get_inputs()[0].shape
        return shape[-1] if shape and isinstance(shape[-1], int) else None


class OnnxFlavor:
    """ONNX graphs (``onnx.ModelProto``)."""

    name = "onnx"
    libraries: tuple[str, ...] = ("onnx", "onnxruntime", "numpy")

    def matches(self, model: Any) -> bool:
        """``onnx.ModelProto`` instances."""
        return top_module(model) == "onnx" and type(model).__name__ == "ModelProto"

    def save(self, model: Any, folder: Path, *, trust_pickle: bool) -> dict[str, Any]:
        """Write ``model.onnx``."""
        (folder / MODEL_FILE).write_bytes(model.SerializeToString())
        return {"file": MODEL_FILE, "serialization": "onnx", "predict_proba": True}

    def load(
        self, folder: Path, info: dict[str, Any], *, trust: TrustedNames, files: Collection[str]
    ) -> Any:
        """An onnxruntime session over the verified file."""
        return OnnxPredictor(folder, info["file"], files)
