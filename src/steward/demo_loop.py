"""The closed loop of ``steward demo``: drift, alert, retraining, gate, promotion, recovery.

A trigger on the drift monitor's alert is armed first, within a retraining
budget. After the monitor has flagged the drifted stream and its alert has
fired, the world is taken to have changed for good: the training data is
measured again (a new version of ``breast-cancer-train`` with the same drift)
and one tick of the agent answers the alert with ``steward.pipelines.retrain``.
The challenger is gated against the
champion on held-out rows of the new data and, the model's policy being
``auto``, promoted; the running server follows the ``champion`` alias and
hot-reloads it. Traffic from the changed world then gets its labels, and the
monitor's next window shows the recovery (no drift against the new model's
training data, the alert resolved, live accuracy back up).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

TRAIN_DATASET = "breast-cancer-train"
TRIGGER = "retrain-on-drift"
RECIPE = "steward.pipelines.recipes:retrain"


@dataclass
class Timeline:
    """Moments of the demo, in seconds since it started."""

    started: float = field(default_factory=time.perf_counter)
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, event: str) -> None:
        """Note that ``event`` happened now."""
        self.events.append((time.perf_counter() - self.started, event))


class WebhookReceiver:
    """A tiny HTTP server on loopback that keeps the JSON bodies posted to it."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bodies: list[dict[str, Any]] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class LoopSummary:
    """What the closed loop did, for printing and for tests."""

    retrain_run: str
    decision: str
    gate_checks: tuple[tuple[str, bool, float | None, float | None], ...]
    champion_before: int
    champion_after: int
    served_version: int
    reload_seconds: float
    accuracy_drifted: float
    accuracy_recovered: float
    drift_share_recovered: float | None
    alert_resolved: bool
    seconds: float


def send_stream(client: Any, rows: Any, batch: int = 20) -> list[str]:
    """Send ``rows`` for prediction in batches; returns their request ids."""
    ids: list[str] = []
    for start in range(0, len(rows), batch):
        records = rows.iloc[start : start + batch].to_dict(orient="records")
        reply = client.post("/predict", json={"inputs": records})
        reply.raise_for_status()
        ids.extend(reply.json()["request_ids"])
    return ids


def send_labels(client: Any, request_ids: list[str], labels: Any) -> None:
    """The ground truth of earlier predictions, through the feedback endpoint."""
    feedback = [
        {"request_id": request_id, "label": int(label)}
        for request_id, label in zip(request_ids, labels, strict=True)
    ]
    client.post("/feedback", json={"feedback": feedback}).raise_for_status()


def live_accuracy(model: str, request_ids: list[str], timeout_s: float = 10.0) -> float:
    """Accuracy of the served predictions among ``request_ids``, once the log holds them
    all with their labels (the log is written off the request path)."""
    from steward.serving import read_predictions

    wanted = set(request_ids)
    deadline = time.monotonic() + timeout_s
    while True:
        log = read_predictions(model)
        log = log[log["request_id"].isin(wanted) & log["label"].notna()]
        if len(log) >= len(wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return float((log["prediction"] == log["label"]).mean()) if len(log) else 0.0


def _wait_for_version(client: Any, version: int, timeout_s: float = 30.0) -> float:
    """Seconds until the server answers with ``version`` (it polls the alias)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while client.get("/ready").json().get("version") != version:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server did not load version {version} in {timeout_s} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def arm_trigger(model: str, monitor: str, seed: int) -> None:
    """Retrain ``model`` with the recipe when ``monitor`` alerts, within a budget."""
    import contextlib

    import steward
    from steward.errors import NotFound

    steward.agent.set_budget(
        model, max_per_day=10, max_per_week=50, max_cpu_seconds=600, min_interval="1m",
        persistence=1, reset=True,
    )  # fmt: skip
    with contextlib.suppress(NotFound):  # the demo run again in the same workspace
        steward.triggers.delete(TRIGGER)
    steward.triggers.add(
        TRIGGER,
        RECIPE,
        alert=monitor,
        model=model,
        params={
            "model": model,
            "data": f"{TRAIN_DATASET}@latest",
            "seed": seed,
            "metric": "accuracy",
            "min_delta": 0.0,
        },
    )


def _agent_tick(model: str) -> tuple[Any, str]:
    """One tick of the agent: it answers the fired alert; returns the retraining run and
    a line on the budget."""
    import steward
    from steward.errors import Conflict

    steward.set_experiment(f"{model}-retraining")  # the agent's runs, apart from the demo's
    agent = steward.agent.Agent(run_monitors=False)
    try:
        report = agent.tick()
    finally:
        agent.close()
    if not report.holding:
        holder = report.held_by.holder if report.held_by else "another agent"
        raise Conflict(f"{holder} holds this workspace's agent lease; stop it and run again.")
    (firing,) = [f for f in report.firings if f.trigger == TRIGGER]
    if firing.pipeline_run_id is None:
        raise Conflict(f"the retraining trigger did not run: {firing.state} ({firing.reason}).")
    spent = steward.agent.show_budget(model)
    budget = spent.budget
    limit = "-" if budget is None or budget.max_per_day is None else str(budget.max_per_day)
    line = (
        f"the agent fired trigger {TRIGGER} (firing {firing.id[:12]}, {firing.key}); "
        f"budget: {spent.runs_day} of {limit} retrains today, {spent.cpu_seconds:.1f} CPU s"
    )
    return steward.pipelines.get_run(firing.pipeline_run_id), line


def close_loop(
    client: Any,
    *,
    model: str,
    monitor: str,
    drifted: tuple[list[str], Any],
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    shift: Any,
    rows: int,
    seed: int,
    timeline: Timeline,
) -> LoopSummary:
    """Retrain on the changed world, gate, promote, hot-reload and show the recovery.

    Args:
        client: an HTTP client of the running server (base URL set).
        model: the registered model the server follows as ``@champion``.
        monitor: the monitor whose drift alert has fired.
        drifted: request ids of the drifted stream and their labels (sent now: they arrive).
        X_train, y_train, X_test, y_test: the demo's split.
        shift: what the drift does to a frame of features (returns a new frame).
        rows: rows per monitored window.
        seed: the demo's seed.
        timeline: where moments are noted.
    """
    import numpy as np

    import steward
    from steward import monitoring

    started = time.perf_counter()
    send_labels(client, *drifted)
    accuracy_drifted = live_accuracy(model, drifted[0])
    timeline.mark(f"labels arrive for the drifted stream: live accuracy {accuracy_drifted:.3f}")
    champion_before = steward.models.resolve(f"models:/{model}@champion").version
    steward.data.add(
        TRAIN_DATASET,
        shift(X_train).assign(target=y_train),
        description="the training split measured again after the drift",
        tags={"source": "steward demo", "split": "train", "drift": "injected"},
    )
    timeline.mark(f"new data version {TRAIN_DATASET}:2 (the changed world)")
    record, fired = _agent_tick(model)
    timeline.mark(fired)
    outcome = steward.pipelines.load(record)
    gated = steward.pipelines.load(record, "gate_challenger")
    timeline.mark(
        f"retraining run {record.id[:12]}: challenger v{outcome['version']} "
        f"{'passed' if gated['passed'] else 'failed'} the gate, {outcome['decision']}"
    )
    reload_seconds = _wait_for_version(client, outcome["version"]) if (
        outcome["decision"] == "promoted"
    ) else 0.0  # fmt: skip
    served = int(client.get("/ready").json()["version"])
    timeline.mark(f"server hot-reloaded: now serving v{served}")
    rng = np.random.default_rng(seed + 1)
    picked = rng.integers(0, len(X_test), rows)
    ids = send_stream(client, shift(X_test.iloc[picked].reset_index(drop=True)))
    timeline.mark(f"{rows} requests from the changed world")
    send_labels(client, ids, np.asarray(y_test)[picked])
    accuracy_recovered = live_accuracy(model, ids)
    timeline.mark(f"labels arrive for the new traffic: live accuracy {accuracy_recovered:.3f}")
    recovered = monitoring.run_monitor(monitor)
    resolved = any(notice.event == "resolved" for notice in recovered.alerts)
    timeline.mark(
        f"monitor: {recovered.drift_share or 0:.0%} of features drifted, "
        f"alert {'resolved' if resolved else 'still open'}"
    )
    return LoopSummary(
        retrain_run=record.id,
        decision=outcome["decision"],
        gate_checks=tuple(
            (
                r["name"],
                r["passed"],
                r["details"].get("challenger"),
                r["details"].get("champion"),
            )
            for r in gated["results"]
        ),
        champion_before=champion_before,
        champion_after=steward.models.resolve(f"models:/{model}@champion").version,
        served_version=served,
        reload_seconds=reload_seconds,
        accuracy_drifted=accuracy_drifted,
        accuracy_recovered=accuracy_recovered,
        drift_share_recovered=recovered.drift_share,
        alert_resolved=resolved,
        seconds=time.perf_counter() - started,
    )


def print_loop(summary: LoopSummary, timeline: Timeline, console: Any) -> None:
    """Print the closed loop's gate and the demo's timeline."""
    from rich.table import Table

    for name, passed, challenger, champion in summary.gate_checks:
        figures = "" if challenger is None else f" (challenger {challenger:.3f}, "
        figures += "" if champion is None else f"champion {champion:.3f})"
        console.print(f"gate {'✓' if passed else '✗'} {name}{figures}", highlight=False)
    console.print(
        f"closed loop: champion v{summary.champion_before} → v{summary.champion_after} "
        f"({summary.decision}); server reloaded in {summary.reload_seconds:.2f} s; live "
        f"accuracy {summary.accuracy_drifted:.3f} → {summary.accuracy_recovered:.3f}",
        highlight=False,
    )
    table = Table(title="Timeline", header_style="bold")
    table.add_column("t (s)", justify="right")
    table.add_column("what happened")
    for at, event in timeline.events:
        table.add_row(f"{at:.1f}", event)
    console.print(table)
