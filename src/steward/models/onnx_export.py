"""ONNX export of scikit-learn models, checked against the native predictions.

The graph is built in float64 so tree ensembles break ties as scikit-learn
does; the export is kept only when labels agree exactly and probabilities
(or regression outputs) within ``tolerance`` on the check rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steward.errors import InvalidInput, require
from steward.models.signature import _as_frame

ONNX_FILE = "model.onnx"


def _numeric_rows(data: Any) -> Any:
    import numpy as np

    frame = _as_frame(data)
    array = frame.to_numpy() if frame is not None else np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            "ONNX export needs numeric inputs; this input example has non-numeric columns."
        ) from exc


def export_sklearn(
    model: Any,
    folder: Path,
    input_example: Any,
    check_data: Any = None,
    *,
    tolerance: float = 1e-6,
) -> dict[str, Any]:
    """Convert ``model`` into ``folder/model.onnx`` and check it against ``model``.

    Trees and forests get Steward's compact graph (``steward.models.onnx_trees``)
    when it agrees with scikit-learn on the check rows; everything else, or a
    compact graph that disagrees, is converted by skl2onnx.

    Raises:
        InvalidInput: no input example, conversion failed, or predictions disagree.
    """
    from steward.models.onnx_trees import compact_tree_graph

    if input_example is None and check_data is None:
        raise InvalidInput("ONNX export needs an input_example (or onnx_check_data) to check.")
    skl2onnx: Any = require("skl2onnx", "onnx", "ONNX export")
    rows = _numeric_rows(check_data if check_data is not None else input_example)
    native_input = rows if not hasattr(model, "feature_names_in_") else _framed(model, rows)
    compact = compact_tree_graph(model, rows.shape[1])
    if compact is not None:
        try:
            agree, max_diff = _check(model, compact, folder, rows, native_input, tolerance)
        except Exception:  # an onnxruntime that cannot run it: skl2onnx's graph instead
            (folder / ONNX_FILE).unlink(missing_ok=True)
            agree = False
        if agree:
            return _export_info(max_diff, tolerance, rows, "compact trees")
    try:
        onx = skl2onnx.to_onnx(model, rows[:1], options={"zipmap": False}, target_opset=None)
    except Exception as exc:
        try:
            onx = skl2onnx.to_onnx(model, rows[:1])
        except Exception:
            raise InvalidInput(f"skl2onnx cannot convert this model: {exc}") from exc
    drop_default_tree_attributes(onx)
    agree, max_diff = _check(model, onx, folder, rows, native_input, tolerance)
    if not agree:
        raise InvalidInput(
            f"the ONNX export disagrees with scikit-learn on the check rows (max difference "
            f"{max_diff:.3g} > tolerance {tolerance:g}); not storing it. Raise onnx_tolerance "
            "if that difference is acceptable."
        )
    return _export_info(max_diff, tolerance, rows, "skl2onnx")


def _export_info(max_diff: float, tolerance: float, rows: Any, converter: str) -> dict[str, Any]:
    return {
        "file": ONNX_FILE,
        "max_abs_diff": max_diff,
        "tolerance": tolerance,
        "rows_checked": int(rows.shape[0]),
        "converter": converter,
    }


def _check(
    model: Any, graph: Any, folder: Path, rows: Any, native_input: Any, tolerance: float
) -> tuple[bool, float]:
    """Write ``graph`` and compare its outputs with ``model``'s; a graph that disagrees is
    removed again. Returns whether they agree, and the largest difference."""
    import numpy as np

    from steward.models.flavors.onnx import OnnxPredictor

    path = folder / ONNX_FILE
    path.write_bytes(graph.SerializeToString())
    predictor = OnnxPredictor(folder, ONNX_FILE, [ONNX_FILE])
    native = np.asarray(model.predict(native_input))
    exported = np.asarray(predictor.predict(rows)).reshape(native.shape)
    if native.dtype.kind in "fc":
        max_diff = float(np.max(np.abs(native - exported))) if native.size else 0.0
        agree = max_diff <= tolerance
    else:
        agree = bool(np.array_equal(native.astype(str), exported.astype(str)))
        max_diff = 0.0
    if agree and hasattr(model, "predict_proba") and predictor.has_proba:
        native_proba = np.asarray(model.predict_proba(native_input))
        max_diff = float(np.max(np.abs(native_proba - predictor.predict_proba(rows))))
        agree = max_diff <= tolerance
    if not agree:
        path.unlink()
    return agree, max_diff


# Optional attributes of the tree-ensemble operators, with the value that means "unset".
_TREE_DEFAULTS = {"nodes_hitrates": 1.0, "nodes_missing_value_tracks_true": 0}
_TREE_OPERATORS = {"TreeEnsembleClassifier", "TreeEnsembleRegressor"}


def drop_default_tree_attributes(model: Any) -> int:
    """Remove tree-ensemble attributes that only repeat their default, one value a node.

    skl2onnx writes ``nodes_hitrates`` (all 1.0) and ``nodes_missing_value_tracks_true``
    (all 0) for every node; onnxruntime keeps a parsed copy of each attribute for
    the session's life, so for a 100-tree forest (152,000 nodes) the two cost
    2.1 MB of every served copy while changing no prediction.

    Returns:
        How many attributes were removed.
    """
    removed = 0
    for node in model.graph.node:
        if node.domain != "ai.onnx.ml" or node.op_type not in _TREE_OPERATORS:
            continue
        keep = []
        for attribute in node.attribute:
            default = _TREE_DEFAULTS.get(attribute.name)
            values = list(attribute.floats) or list(attribute.ints)
            if default is not None and all(value == default for value in values):
                removed += 1
            else:
                keep.append(attribute)
        del node.attribute[:]
        node.attribute.extend(keep)
    return removed


def _framed(model: Any, rows: Any) -> Any:
    import pandas as pd

    return pd.DataFrame(rows, columns=list(model.feature_names_in_))
