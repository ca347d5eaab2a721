"""Models: safe formats, signatures, locked environments, a registry with aliases, bundles.

``steward.models.log`` stores a model in the active run (skops for
scikit-learn, ONNX, XGBoost/LightGBM native formats, or a ``PythonModel``;
pickle only when trusted), ``steward.models.load`` brings it back by
``models:/name@alias``, ``models:/name/3`` or ``runs:/<run_id>/<path>``.
Heavy libraries are imported only when a model needs them.
"""

from __future__ import annotations

from steward.models.bundle import bundle
from steward.models.card import ModelCard, card, write_card
from steward.models.environment import EnvironmentLock, Mismatch, check_environment
from steward.models.flavors.pyfunc import ModelContext, PythonModel
from steward.models.fluent import ModelInfo, load, load_bundle, log
from steward.models.gate import GateResult
from steward.models.loaded import LoadedModel
from steward.models.policy import (
    Promotion,
    apply_policy,
    get_policy,
    promote,
    rollback,
    set_policy,
)
from steward.models.registry import (
    alias_history,
    approve,
    archive,
    create_model,
    delete_alias,
    get_model,
    get_version,
    list_models,
    list_versions,
    register,
    reject,
    resolve,
    search,
    set_alias,
    set_card_fields,
    status_history,
    update_model,
)
from steward.models.signature import ColumnSpec, Signature, infer_signature
from steward.models.uri import ModelURI, parse_model_uri
from steward.store.promotion import GateRecord, PromotionPolicy
from steward.store.registry import (
    AliasEvent,
    ModelVersion,
    RegisteredModel,
    StatusEvent,
    VersionStatus,
)

__all__ = [
    "AliasEvent",
    "ColumnSpec",
    "EnvironmentLock",
    "GateRecord",
    "GateResult",
    "LoadedModel",
    "Mismatch",
    "ModelCard",
    "ModelContext",
    "ModelInfo",
    "ModelURI",
    "ModelVersion",
    "Promotion",
    "PromotionPolicy",
    "PythonModel",
    "RegisteredModel",
    "Signature",
    "StatusEvent",
    "VersionStatus",
    "alias_history",
    "apply_policy",
    "approve",
    "archive",
    "bundle",
    "card",
    "check_environment",
    "create_model",
    "delete_alias",
    "env_check",
    "get_model",
    "get_policy",
    "get_version",
    "infer_signature",
    "list_models",
    "list_versions",
    "load",
    "load_bundle",
    "log",
    "parse_model_uri",
    "promote",
    "register",
    "reject",
    "resolve",
    "rollback",
    "search",
    "set_alias",
    "set_card_fields",
    "set_policy",
    "status_history",
    "update_model",
    "write_card",
]


def env_check(uri: str) -> list[Mismatch]:
    """Compare the current environment with a registered version's lock."""
    from steward.models.stored import materialize
    from steward.workspace import current_workspace

    version = resolve(uri)
    assert version.run_id is not None
    _, metadata = materialize(
        current_workspace(), version.run_id, version.artifact_path, version.metadata_digest
    )
    return check_environment(metadata.environment)
