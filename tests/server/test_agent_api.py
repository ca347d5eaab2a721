"""The agent's state and promotion through the REST API: a budget caps retraining cost and a
policy may promote without a person, so setting either is an approver's decision, and
their values are checked on the server whatever a client sends (a budget's limits become
columns of a row)."""

from __future__ import annotations

from tests.server.conftest import Team

LIMITS = {
    "max_per_day": 2,
    "max_per_week": None,
    "max_cpu_seconds": 600.0,
    "min_interval_s": None,
    "persistence": 1,
    "period": "day",
    "channels": ["log"],
}


def test_budgets_need_an_approver_and_well_formed_limits(team: Team) -> None:
    team.server.workspace.store.registry.create_model("triage", "tests")
    path = "/budgets/triage"
    with team.client("editor") as editor:
        assert editor.put(path, json={"limits": LIMITS}).status_code == 403
        assert editor.get(path).json() is None
    with team.client("approver") as approver:
        for odd in (
            {**LIMITS, "model": "other"},  # not a limit: would name a column
            {key: value for key, value in LIMITS.items() if key != "period"},
            {**LIMITS, "max_per_day": -1},
            {**LIMITS, "persistence": 0},
            {**LIMITS, "max_cpu_seconds": True},
            {**LIMITS, "period": "fortnight"},
            {**LIMITS, "channels": "log"},
            {**LIMITS, "channels": ["carrier-pigeon:coop"]},
        ):
            answer = approver.put(path, json={"limits": odd})
            assert answer.status_code == 400, (odd, answer.text)
        made = approver.put(path, json={"limits": LIMITS})
        assert made.status_code == 200, made.text
        assert made.json()["max_per_day"] == 2 and made.json()["updated_by"] == "approver"
    with team.client("viewer") as viewer:
        assert viewer.get(path).json()["max_cpu_seconds"] == 600.0
        assert viewer.get("/triggers").json() == []
        assert viewer.post("/firings/search", json={}).json() == []


def test_a_promotion_policy_is_an_approvers_and_gates_are_read_by_anyone(team: Team) -> None:
    team.server.workspace.store.registry.create_model("triage", "tests")
    path = "/models/triage/policy"
    policy = {"promote": "auto", "production": "auto", "channels": ["log"]}
    with team.client("editor") as editor:
        assert editor.put(path, json=policy).status_code == 403
        assert editor.get(path).json()["production"] == "approval"  # the default
    with team.client("approver") as approver:
        for odd in ({**policy, "production": "yolo"}, {**policy, "channels": ["nope:x"]}):
            assert approver.put(path, json=odd).status_code == 400, odd
        set_ = approver.put(path, json=policy)
        assert set_.status_code == 200 and set_.json()["production"] == "auto"
    with team.client("viewer") as viewer:
        assert viewer.get(path).json()["promote"] == "auto"
        assert viewer.post("/gates/search", json={"model": ["triage", None]}).json() == []
        refused = viewer.post("/gates/x/decision", json={"decision": "promoted", "reason": "r"})
        assert refused.status_code == 403


def test_a_lease_past_any_date_is_refused_and_a_sound_one_is_taken(team: Team) -> None:
    lease = {"holder": "agent-1", "host": "box", "pid": 12}
    with team.client("editor") as editor:
        for odd in (
            {"ttl_ms": 10**14},  # expires in the year 5138: no datetime holds the next read
            {"ttl_ms": 0},
            {"ttl_ms": 60_000, "last_tick_ms": 10**16},
            {"ttl_ms": 60_000, "pid": -1},
        ):
            answer = editor.post("/agent-lease", json={**lease, **odd})
            assert answer.status_code == 400, (odd, answer.text)
        assert editor.get("/agent-lease").json() is None  # nothing was taken
        taken = editor.post("/agent-lease", json={**lease, "ttl_ms": 60_000})
        assert taken.status_code == 200, taken.text
        assert editor.get("/agent-lease").json()["holder"] == "agent-1"
