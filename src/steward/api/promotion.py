"""Promotion over HTTP: each model's policy, and the gate runs that compare a
challenger with the champion before it is promoted.

A policy may let a gate move ``production`` without a person, so setting one
is an approver's decision. The alias moves a gate leads to go through the
registry's own routes, which keep their roles and review rules.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.errors import InvalidInput
from steward.store.promotion import DECISIONS, PROMOTE_MODES, PromotionStore


def _check_policy(arguments: dict[str, Any]) -> None:
    for name in ("promote", "production"):
        if arguments[name] not in PROMOTE_MODES:
            raise InvalidInput(f"{name} must be one of {PROMOTE_MODES}.")


def _check_decision(arguments: dict[str, Any]) -> None:
    if arguments["decision"] not in DECISIONS:
        raise InvalidInput(f"a decision is one of {DECISIONS}.")
    if not arguments["reason"].strip():
        raise InvalidInput("a decision needs a reason; it is audited.")


_promotion = partial(Endpoint, "promotion")
_read, _write = Role.VIEWER, Role.EDITOR

PROMOTION = Repository(
    "promotion",
    (
        _promotion(PromotionStore.get_policy, "GET", "/models/{name}/policy", _read),
        _promotion(
            PromotionStore.set_policy,
            "PUT",
            "/models/{name}/policy",
            Role.APPROVER,
            _check_policy,
            server_check="check_policy_channels",
        ),
        _promotion(PromotionStore.record_gate, "POST", "/gates", _write, status=201),
        # POST: ``model`` is a (name, version) pair, which a query string cannot carry.
        _promotion(PromotionStore.gates, "POST", "/gates/search", _read),
        _promotion(
            PromotionStore.decide, "POST", "/gates/{gate_id}/decision", _write, _check_decision
        ),
    ),
)
