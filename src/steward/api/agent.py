"""The retraining agent's state over HTTP: triggers, firings, its lease, and budgets.

An agent started against a team server (``steward agent run`` with
``STEWARD_URI``) keeps its triggers, the firings it plans, the lease that
lets only one agent act at a time, and the budgets its firings keep, in the
server's store. Budgets cap what retraining may cost, so setting one is an
approver's decision; the values are checked here (and the alert channels
by the server's services) as the SDK checks them, since a request can carry
anything.
"""

from __future__ import annotations

import numbers
from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.api.tracking import check_time
from steward.auth import Role
from steward.errors import InvalidInput
from steward.store.agent import AgentStore
from steward.store.agent_lease import AgentLeaseStore
from steward.store.budgets import BudgetStore
from steward.store.validation import check_name

BUDGET_LIMITS = {
    "max_per_day": 0,
    "max_per_week": 0,
    "max_cpu_seconds": 0,
    "min_interval_s": 0,
    "persistence": 1,
}
"""The numeric limits of a budget, with the least value each may take."""
BUDGET_PERIODS = ("day", "week")


def _check_trigger(arguments: dict[str, Any]) -> None:
    check_name("trigger", arguments["name"])
    if arguments["cursor"] < 0:
        raise InvalidInput("a trigger's cursor cannot be negative.")


def _check_cursor(arguments: dict[str, Any]) -> None:
    if arguments["cursor"] < 0:
        raise InvalidInput("a trigger's cursor cannot be negative.")


MAX_LEASE_TTL_MS = 86_400_000
"""The longest lease an agent takes at once (a day; agents renew every third of it)."""


def _check_lease(arguments: dict[str, Any]) -> None:
    if not 1 <= arguments["ttl_ms"] <= MAX_LEASE_TTL_MS or arguments["pid"] < 0:
        raise InvalidInput(
            f"a lease needs a ttl_ms between 1 and {MAX_LEASE_TTL_MS:,} (a day) "
            "and a pid of 0 or more."
        )
    check_time(arguments, "last_tick_ms")


def _check_budget(arguments: dict[str, Any]) -> None:
    limits: dict[str, Any] = arguments["limits"]
    expected = {*BUDGET_LIMITS, "period", "channels"}
    if set(limits) != expected:
        raise InvalidInput(f"a budget's limits are exactly {sorted(expected)}.")
    for name, least in BUDGET_LIMITS.items():
        value = limits[name]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < least:
            raise InvalidInput(f"{name} must be a number of at least {least}, or null.")
    if limits["period"] not in BUDGET_PERIODS:
        raise InvalidInput(f"period must be one of {BUDGET_PERIODS}.")
    channels = limits["channels"]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise InvalidInput("channels must be a list of channel specs.")


_agent = partial(Endpoint, "agent")
_read, _write = Role.VIEWER, Role.EDITOR
_trigger = "/triggers/{name}"

AGENT = Repository(
    "agent",
    (
        _agent(
            AgentStore.create_trigger,
            "POST",
            "/triggers",
            _write,
            _check_trigger,
            201,
            server_check="check_trigger_kind",
        ),
        _agent(AgentStore.list_triggers, "GET", "/triggers", _read),
        _agent(AgentStore.get_trigger, "GET", _trigger, _read),
        _agent(AgentStore.set_paused, "POST", _trigger + "/paused", _write),
        _agent(AgentStore.delete_trigger, "DELETE", _trigger, _write),
        _agent(AgentStore.move_cursor, "POST", _trigger + "/cursor", _write, _check_cursor),
        _agent(AgentStore.plan_firing, "POST", "/triggers/{trigger}/firings", _write),
        # POST: ``states`` is a tuple, which a query string cannot carry. Declared before
        # ``/firings/{firing_id}``, which would otherwise take ``search`` for an id.
        _agent(AgentStore.firings, "POST", "/firings/search", _read),
        _agent(AgentStore.update_firing, "POST", "/firings/{firing_id}", _write),
    ),
)

_lease = partial(Endpoint, "agent_lease")

AGENT_LEASE = Repository(
    "agent_lease",
    (
        _lease(AgentLeaseStore.get, "GET", "/agent-lease", _read),
        _lease(AgentLeaseStore.acquire, "POST", "/agent-lease", _write, _check_lease),
        _lease(AgentLeaseStore.release, "POST", "/agent-lease/release", _write),
    ),
)

_budgets = partial(Endpoint, "budgets")

BUDGETS = Repository(
    "budgets",
    (
        _budgets(
            BudgetStore.set,
            "PUT",
            "/budgets/{model}",
            Role.APPROVER,
            _check_budget,
            server_check="check_budget_channels",
        ),
        _budgets(BudgetStore.get, "GET", "/budgets/{model}", _read),
    ),
)
