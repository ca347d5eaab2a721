"""Promotion over HTTP: the gate's stored verdicts and each model's promotion policy.

The server checks what it is sent whatever the client checked: a policy's
modes and its channels' kinds, a decision's name (a channel's target is
checked again at each delivery, as a monitor's is). Setting a policy needs an
approver: it decides whether a model changes without a person.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.errors import InvalidInput
from steward.store.promotion import DECISIONS, PROMOTE_MODES, PromotionStore

_CHANNEL_KINDS = ("webhook", "slack", "email", "log")


def _check_policy(arguments: dict[str, Any]) -> None:
    for option in ("promote", "production"):
        if arguments[option] not in PROMOTE_MODES:
            raise InvalidInput(f"{option} must be one of {', '.join(PROMOTE_MODES)}.")
    for spec in arguments["channels"]:
        if spec.partition(":")[0].strip().lower() not in _CHANNEL_KINDS:
            raise InvalidInput(f"channel {spec!r} is not one of {', '.join(_CHANNEL_KINDS)}.")


def _check_decision(arguments: dict[str, Any]) -> None:
    if arguments["decision"] not in DECISIONS:
        raise InvalidInput(f"a gate decision is one of {', '.join(DECISIONS)}.")


_promotion = partial(Endpoint, "promotion")
_read, _write = Role.VIEWER, Role.EDITOR

PROMOTION = Repository(
    "promotion",
    (
        _promotion(PromotionStore.get_policy, "GET", "/models/{name}/policy", _read),
        _promotion(
            PromotionStore.set_policy, "PUT", "/models/{name}/policy", Role.APPROVER, _check_policy
        ),
        _promotion(PromotionStore.record_gate, "POST", "/gate-runs", _write, status=201),
        _promotion(
            PromotionStore.decide, "POST", "/gate-runs/{gate_id}/decision", _write, _check_decision
        ),
        _promotion(PromotionStore.gates, "POST", "/gate-runs/search", _read),
    ),
)
