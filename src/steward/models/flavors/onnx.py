"""The ONNX flavor: ``onnx.ModelProto`` stored as ``model.onnx``, run with onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steward.errors import InvalidInput, require
from steward.models.flavors import top_module

MODEL_FILE = "model.onnx"
_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


class OnnxPredictor:
    """An onnxruntime session with ``predict`` (and ``predict_proba`` for classifiers)."""

    def __init__(self, model_bytes: bytes) -> None:
        ort: Any = require("onnxruntime", "onnx", "Running ONNX models")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(
            model_bytes, options, providers=["CPUExecutionProvider"]
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

    def load(self, folder: Path, info: dict[str, Any], *, trust: bool) -> Any:
        """An onnxruntime session over the verified file."""
        return OnnxPredictor((folder / info["file"]).read_bytes())
