"""Promotion policy and rollback: what happens to a challenger once the gate has judged it.

Per model, ``promote`` is ``auto`` (a passing challenger becomes ``champion``
at once; servers following the alias hot-reload it) or ``approval`` (it takes
the ``challenger`` alias and waits; the policy's alert channels are told, and
``steward models promote`` finishes the job). ``production`` makes the same
choice for the ``production`` alias. A failing challenger is rejected and the
channels are told. ``rollback`` moves an alias back to its previous version.
Every step is audited; the default policy is approval for everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steward.errors import Conflict, InvalidInput
from steward.models import registry
from steward.models.review import PRODUCTION, alias_requirement
from steward.store.promotion import (
    DEFAULT_CHANNELS,
    PROMOTE_MODES,
    PromotionPolicy,
    PromotionStore,
)
from steward.store.registry import VersionStatus

if TYPE_CHECKING:
    from steward.models.gate import GateResult
    from steward.monitoring.alerts.channels import AlertNotice
    from steward.monitoring.alerts.manager import AlertManager
    from steward.store.registry import AliasEvent
    from steward.workspace import Workspace

CHAMPION = "champion"
CHALLENGER = "challenger"

NOTICE_RULES = {
    "approval": ("approvals.pending > 0", "info"),
    "gate": ("gate.rejections > 0", "warning"),
    "retrain": ("retrain.failures > 0", "critical"),
}
"""The alerts a model's promotion raises (source ``model:NAME``), by name: challengers
awaiting approval, challengers the gate turned down, and retrains that failed."""


@dataclass(frozen=True)
class Promotion:
    """What the policy did with a challenger.

    Attributes:
        model: the registered model.
        version: the challenger's version.
        decision: ``promoted``, ``pending`` (awaits approval) or ``rejected``.
        aliases: the aliases it now holds because of this decision.
        gate: the id of the gate run decided.
        message: one line for logs and timelines.
    """

    model: str
    version: int
    decision: str
    aliases: tuple[str, ...]
    gate: str
    message: str


def _workspace() -> Workspace:
    from steward.workspace import current_workspace

    return current_workspace()


def promotion_store() -> PromotionStore:
    """The current workspace's gate runs and policies (a team server's over HTTP)."""
    store: PromotionStore = _workspace().store.promotion
    return store


def _mode(option: str, value: str) -> str:
    if value not in PROMOTE_MODES:
        raise InvalidInput(
            f"--{option} must be one of {', '.join(PROMOTE_MODES)}, not {value!r}: 'auto' "
            "promotes a challenger that passes the gate, 'approval' waits for a person."
        )
    return value


def set_policy(
    name: str,
    *,
    promote: str = "approval",
    production: str = "approval",
    channels: Sequence[str] | None = None,
) -> PromotionPolicy:
    """Set how the challengers of ``name`` are promoted (audited as ``model.policy``).

    Args:
        name: the registered model.
        promote: ``auto`` or ``approval`` for the ``champion`` alias.
        production: ``auto`` or ``approval`` for the ``production`` alias.
        channels: alert channels told about approvals and failures
            (``webhook:URL``, ``slack:URL``, ``email:ADDR`` or ``log``; default ``log``).

    Raises:
        NotFound: no such model.
        InvalidInput: an unknown mode, or a channel that is malformed or refused.
    """
    from steward.monitoring.monitors.definition import parse_channel

    specs = tuple(channels) if channels is not None else DEFAULT_CHANNELS
    for spec in specs:
        parse_channel(spec)  # refuses malformed specs and forbidden targets now, not later
    workspace = _workspace()
    return promotion_store().set_policy(
        name,
        _mode("promote", promote),
        _mode("production", production),
        specs,
        workspace.actor,
    )


def get_policy(name: str) -> PromotionPolicy:
    """The promotion policy of ``name`` (approval for everything until one is set)."""
    return promotion_store().get_policy(name)


def _alerts(name: str, policy: PromotionPolicy) -> AlertManager:
    from steward.monitoring.alerts.manager import AlertManager
    from steward.monitoring.alerts.rules import parse_rule
    from steward.monitoring.monitors.run import stored_channel

    rules = [
        parse_rule(expression, severity=severity, name=key)
        for key, (expression, severity) in NOTICE_RULES.items()
    ]
    channels = [stored_channel(spec) for spec in policy.channels]
    return AlertManager(rules, channels, source=f"model:{name}", workspace=_workspace())


def notify(name: str, key: str, value: float, message: str) -> AlertNotice:
    """Tell the policy's channels about a promotion event (``approval``, ``gate`` or
    ``retrain``, see ``NOTICE_RULES``); the alert stays firing until ``settle``."""
    return _alerts(name, get_policy(name)).announce(key, value, message)


def settle(name: str, key: str, message: str) -> AlertNotice | None:
    """Resolve the model's ``key`` alert, if one is firing, telling the channels."""
    return _alerts(name, get_policy(name)).settle(key, message)


def _pending(name: str) -> int:
    """Challengers of ``name`` that passed the gate and still await a person."""
    workspace = _workspace()
    waiting = {
        record.version
        for record in promotion_store().gates(model=(name, None), decision="pending", limit=1000)
    }
    statuses = {v.version: v.status for v in workspace.store.registry.list_versions(name)}
    return sum(1 for v in waiting if statuses.get(v) is not VersionStatus.REJECTED)


def _rejections(name: str) -> int:
    """How many gate runs of ``name`` in a row, newest first, turned the challenger down."""
    count = 0
    for record in promotion_store().gates(model=(name, None), limit=100):
        if record.passed:
            break
        count += 1
    return count


def _make_champion(name: str, version: int, reason: str, production: str) -> tuple[str, ...]:
    moved = [CHAMPION]
    registry.set_alias(name, CHAMPION, version, reason)
    if production == "auto":
        current = registry.get_version(name, version)
        if current.status is not VersionStatus.APPROVED:
            registry.approve(name, version, reason)
        registry.set_alias(name, PRODUCTION, version, reason)
        moved.append(PRODUCTION)
    return tuple(moved)


def apply_policy(result: GateResult) -> Promotion:
    """Act on a gate's verdict as the challenger's model policy says.

    Passing: ``auto`` makes it champion (and production, if that is ``auto`` too),
    ``approval`` gives it the ``challenger`` alias and tells the channels. Failing:
    the version is rejected and the channels are told. The champion is never
    touched by a failing challenger.

    Raises:
        InvalidInput: the gate result was not saved, or compared two different models.
        Conflict: the verdict was already acted on (nothing changes).
    """
    challenger, champion = result.challenger, result.champion
    if result.record is None:
        raise InvalidInput("the gate result was not saved (save=False); promotion needs it.")
    if challenger.name != champion.name:
        raise InvalidInput(
            f"{challenger.uri} was gated against another model ({champion.uri}); a policy "
            "promotes a challenger over its own model's champion."
        )
    name, version, gate_id = challenger.name, challenger.version, result.record.id
    store = promotion_store()
    decided = store.gates(gate_id=gate_id)[0].decision
    if decided is not None:
        raise Conflict(f"gate run {gate_id} of {challenger.uri} was already decided: {decided}.")
    policy = store.get_policy(name)
    if not result.passed:
        reason = f"failed the gate ({gate_id}) against {champion.uri}: " + ", ".join(
            r.name for r in result.failed if r.severity == "error"
        )
        store.decide(gate_id, "rejected", _workspace().actor, reason)
        if registry.get_version(name, version).status is VersionStatus.PENDING:
            registry.reject(name, version, reason)
        notify(name, "gate", _rejections(name), f"{challenger.uri} {reason}")
        return Promotion(name, version, "rejected", (), gate_id, f"{challenger.uri} {reason}")
    reason = f"passed the gate ({gate_id}) against {champion.uri}"
    if policy.promote == "auto":
        moved = _make_champion(name, version, reason, policy.production)
        store.decide(gate_id, "promoted", _workspace().actor, reason)
        settle(name, "gate", f"{challenger.uri} {reason}")
        message = f"{challenger.uri} {reason}; now {' and '.join(moved)} (policy: auto)"
        return Promotion(name, version, "promoted", moved, gate_id, message)
    registry.set_alias(name, CHALLENGER, version, reason)
    store.decide(gate_id, "pending", _workspace().actor, reason)
    settle(name, "gate", f"{challenger.uri} {reason}")
    message = (
        f"{challenger.uri} {reason} and awaits approval: "
        f"steward models promote {name}/{version} -m '…' (or reject it)"
    )
    notify(name, "approval", _pending(name), message)
    return Promotion(name, version, "pending", (CHALLENGER,), gate_id, message)


def promote(name: str, version: int | str, reason: str) -> Promotion:
    """A person's approval: make a version that passed the gate champion (approved, and
    production too when the policy's ``production`` is ``auto``).

    Raises:
        InvalidInput: no reason.
        Conflict: the version has no passing gate run, or it was already decided.
    """
    if not reason or not reason.strip():
        raise InvalidInput("promoting a version needs a reason (-m '…'); it is audited.")
    number = int(version)
    workspace = _workspace()
    store = promotion_store()
    registry.get_version(name, number)
    runs = store.gates(model=(name, number), limit=1)
    if not runs or not runs[0].passed:
        raise Conflict(
            f"{name}/{number} has no passing gate run; test it first with "
            f"steward.gate('{name}/{number}', data=…) (a person may still move the alias "
            f"by hand: steward models alias {name}@champion {number} -m '…')."
        )
    record = runs[0]
    if record.decision not in (None, "pending"):
        raise Conflict(f"the gate run of {name}/{number} was already decided: {record.decision}.")
    registry.approve(name, number, reason)
    moved = _make_champion(name, number, reason, get_policy(name).production)
    if CHALLENGER in registry.get_version(name, number).aliases:
        registry.delete_alias(name, CHALLENGER, f"promoted: {reason}")
    store.decide(record.id, "promoted", workspace.actor, reason)
    if _pending(name) == 0:
        settle(name, "approval", f"models:/{name}/{number} was promoted: {reason}")
    message = f"models:/{name}/{number} is now {' and '.join(moved)} (approved: {reason})"
    return Promotion(name, number, "promoted", moved, record.id, message)


def rollback(name: str, reason: str, *, alias: str = CHAMPION) -> AliasEvent:
    """Move ``alias`` (``champion`` by default) back to the version it pointed at before,
    audited as ``model.alias.rollback``; servers following it hot-reload that version.

    Raises:
        InvalidInput: no reason.
        NotFound: no such model or alias.
        Conflict: the alias has no earlier version (or it may not take it).
        IntegrityError: that version's stored content no longer verifies (nothing changed).
    """
    if not reason or not reason.strip():
        raise InvalidInput("a rollback needs a reason (--reason '…'); it is audited.")
    required = alias_requirement(alias, reason)
    workspace = _workspace()
    target = workspace.store.registry.rollback_target(name, alias)
    registry.verified(workspace, name, target, f"roll {alias!r} back to")
    return workspace.store.registry.rollback_alias(
        name, alias, workspace.actor, reason.strip(), required, to_version=target
    )
