"""Compact ONNX graphs for scikit-learn trees and forests (``ai.onnx.ml`` opset 5).

skl2onnx writes trees with the ``TreeEnsembleClassifier`` / ``Regressor``
operators, which list every node, leaves included, in ten per-node attributes,
one of them a string per node. onnxruntime keeps a parsed copy of a graph's
attributes for as long as the session lives: 23 MB for a 100-tree forest of
152,000 nodes. The ``TreeEnsemble`` operator of opset 5 describes the same
trees with interior nodes and leaves apart, split modes as bytes and values
as tensors; the same forest then holds 10.6 MB and predicts as fast.

The graph is built from the fitted trees themselves, and compares as
scikit-learn does: inputs rounded to float32 (scikit-learn predicts on
float32 copies) against the float64 thresholds, missing values going where the
tree sends them. Covered: single-output decision trees, random forests and
extra-trees, regressors and binary classifiers with integer or string
classes. Anything else returns None and is converted by skl2onnx.
"""

from __future__ import annotations

from typing import Any

ML_OPSET = 5
_TREE_MODULES = ("sklearn.tree._classes", "sklearn.ensemble._forest")
_TREE_CLASSES = {
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "ExtraTreeClassifier",
    "ExtraTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
}


def _trees(model: Any) -> list[Any] | None:
    """The fitted ``Tree`` objects of a supported model, or None."""
    kind = type(model)
    if kind.__module__ not in _TREE_MODULES or kind.__name__ not in _TREE_CLASSES:
        return None
    estimators = getattr(model, "estimators_", None)
    trees = [est.tree_ for est in estimators] if estimators is not None else [model.tree_]
    if getattr(model, "n_outputs_", 1) != 1:
        return None
    return trees


def _classes(model: Any) -> Any:
    """The classes as an ONNX tensor (two of them, integers or strings), or None."""
    import numpy as np
    from onnx import numpy_helper

    classes = np.asarray(model.classes_)
    if len(classes) != 2:
        return None
    if classes.dtype.kind in "iub":
        return numpy_helper.from_array(classes.astype(np.int64), "classes")
    if classes.dtype.kind in "UO" and all(isinstance(value, str) for value in classes):
        return numpy_helper.from_array(np.array(classes.tolist(), dtype=object), "classes")
    return None


def _ensemble_attributes(trees: list[Any], classifier: bool) -> dict[str, Any]:
    """The ``TreeEnsemble`` attributes of ``trees``: one target (a value, or P(second class))."""
    import numpy as np
    from onnx import numpy_helper

    parts: dict[str, list[Any]] = {
        name: []
        for name in ("features", "splits", "missing", "true_ids", "true_leaf", "false_ids",
                     "false_leaf", "weights")
    }  # fmt: skip
    roots: list[int] = []
    interior_seen = leaves_seen = 0
    for tree in trees:
        left, right = tree.children_left, tree.children_right
        interior = np.flatnonzero(left != -1)
        leaves = np.flatnonzero(left == -1)
        node_index = np.full(tree.node_count, -1)
        node_index[interior] = np.arange(len(interior)) + interior_seen
        leaf_index = np.full(tree.node_count, -1)
        leaf_index[leaves] = np.arange(len(leaves)) + leaves_seen
        interior_seen += len(interior)
        leaves_seen += len(leaves)
        roots.append(int(node_index[0]) if left[0] != -1 else -1)
        parts["features"].append(tree.feature[interior])
        parts["splits"].append(tree.threshold[interior])
        goes_left = getattr(tree, "missing_go_to_left", None)
        parts["missing"].append(
            np.zeros(len(interior), np.int64) if goes_left is None else goes_left[interior]
        )
        for children, side in ((left, "true"), (right, "false")):
            child = children[interior]
            is_leaf = left[child] == -1
            parts[f"{side}_ids"].append(np.where(is_leaf, leaf_index[child], node_index[child]))
            parts[f"{side}_leaf"].append(is_leaf.astype(np.int64))
        values = tree.value[leaves, 0, :]
        parts["weights"].append(values[:, 1] / values.sum(axis=1) if classifier else values[:, 0])
    if min(roots) < 0:
        raise ValueError("a tree that is a single leaf")  # caught: skl2onnx converts it
    joined = {name: np.concatenate(arrays) for name, arrays in parts.items()}
    attributes = {
        "aggregate_function": 0,  # AVERAGE: a forest's mean; one tree's own value
        "n_targets": 1,
        "post_transform": 0,
        "tree_roots": roots,
        "nodes_featureids": joined["features"].astype(np.int64).tolist(),
        "nodes_splits": numpy_helper.from_array(joined["splits"].astype(np.float64)),
        "nodes_modes": numpy_helper.from_array(np.zeros(len(joined["splits"]), np.uint8)),
        "nodes_truenodeids": joined["true_ids"].astype(np.int64).tolist(),
        "nodes_trueleafs": joined["true_leaf"].tolist(),
        "nodes_falsenodeids": joined["false_ids"].astype(np.int64).tolist(),
        "nodes_falseleafs": joined["false_leaf"].tolist(),
        "leaf_targetids": [0] * len(joined["weights"]),
        "leaf_weights": numpy_helper.from_array(joined["weights"].astype(np.float64)),
    }
    if joined["missing"].any():  # NaN goes left where the tree learned to send it left
        attributes["nodes_missing_value_tracks_true"] = joined["missing"].astype(np.int64).tolist()
    return attributes


def compact_tree_graph(model: Any, width: int) -> Any:
    """An opset-5 ONNX graph of a fitted tree model, or None when it is not covered.

    Args:
        model: a fitted scikit-learn estimator.
        width: its number of input features.

    Returns:
        An ``onnx.ModelProto`` with input ``X`` (float64) and outputs ``label`` and
        ``probabilities`` (classifiers) or ``variable`` (regressors); None otherwise.
    """
    trees = _trees(model)
    if trees is None:
        return None
    from onnx import TensorProto, helper

    classifier = hasattr(model, "classes_")
    classes: Any = _classes(model) if classifier else None
    if classifier and classes is None:
        return None
    try:
        attributes = _ensemble_attributes(trees, classifier)
    except (ValueError, IndexError, AttributeError):
        return None
    nodes = [
        # scikit-learn compares float32 copies of the inputs with float64 thresholds.
        helper.make_node("Cast", ["X"], ["x32"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["x32"], ["x64"], to=TensorProto.DOUBLE),
        helper.make_node("TreeEnsemble", ["x64"], ["score"], domain="ai.onnx.ml", **attributes),
    ]
    double = TensorProto.DOUBLE
    inputs = [helper.make_tensor_value_info("X", double, [None, width])]
    initializers: list[Any] = []
    if classifier:
        nodes += [
            helper.make_node("Sub", ["one", "score"], ["rest"]),
            helper.make_node("Concat", ["rest", "score"], ["probabilities"], axis=1),
            helper.make_node("ArgMax", ["probabilities"], ["index"], axis=1, keepdims=0),
            helper.make_node("Gather", ["classes", "index"], ["label"]),
        ]
        initializers = [helper.make_tensor("one", double, [], [1.0]), classes]
        outputs = [
            helper.make_tensor_value_info("label", classes.data_type, [None]),
            helper.make_tensor_value_info("probabilities", double, [None, 2]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["score"], ["variable"]))
        outputs = [helper.make_tensor_value_info("variable", double, [None, 1])]
    graph = helper.make_graph(nodes, type(model).__name__, inputs, outputs, initializers)
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", ML_OPSET)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="steward")
    proto.ir_version = 10
    return proto
