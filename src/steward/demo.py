"""``steward demo``: the lifecycle on the breast-cancer diagnostic data.

Trains several scikit-learn classifiers on data that scikit-learn ships,
tracks each as a run (params, per-fold and test metrics, the model as a
skops artifact), and prints a comparison and where everything is stored.
The training and test data are versioned as datasets first, and each run
records that it read them, so the lineage data version → runs is printed too.
The champion is then registered, served on loopback and sent the test split
with feedback labels; then a second stream, with drift injected partway,
is watched by a monitor whose alert reaches a local webhook. The alert
closes the loop (``demo_loop.py``): retraining on the changed data, the gate,
promotion, the server's hot reload and the recovery the monitor sees. A
timeline is printed and an HTML report is written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from steward.demo_governance import (
    GovernanceSummary,
    check_data,
    govern_champion,
    print_governance,
)
from steward.demo_loop import LoopSummary, Timeline, WebhookReceiver, print_loop, send_stream

EXPERIMENT = "breast-cancer-diagnosis"
REGISTERED_MODEL = "breast-cancer-classifier"


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced, for printing and for tests."""

    experiment: str
    run_ids: dict[str, str]
    best_model: str
    best_run_id: str
    metrics: dict[str, dict[str, float]]
    datasets: tuple[str, ...] = ()
    registered_model: str = ""
    registered_version: int = 0
    card_path: Path | None = None
    serving: ServingSummary | None = None
    monitoring: MonitoringSummary | None = None
    governance: GovernanceSummary | None = None
    loop: LoopSummary | None = None
    timeline: Timeline | None = None


@dataclass(frozen=True)
class MonitoringSummary:
    """What the monitor saw on the second stream: a calm window, then a drifted one."""

    monitor: str
    calm_share: float | None
    drift_share: float | None
    drifted: tuple[str, ...]
    webhook_bodies: tuple[dict[str, Any], ...]
    report_path: Path | None
    seconds: float


@dataclass(frozen=True)
class ServingSummary:
    """What serving the champion showed: latency, refused bad requests, the log."""

    url: str
    requests: int
    p50_ms: float
    p99_ms: float
    bad_requests: dict[str, int]
    logged_rows: int
    labelled_rows: int
    accuracy: float


def _candidates(seed: int) -> dict[str, Any]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic-regression": make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)
        ),
        "random-forest": RandomForestClassifier(n_estimators=200, max_depth=6, random_state=seed),
        "gradient-boosting": GradientBoostingClassifier(
            n_estimators=150, learning_rate=0.1, max_depth=2, random_state=seed
        ),
    }


def _scores(model: Any, X: Any, y: Any) -> dict[str, float]:
    from sklearn import metrics

    predicted = model.predict(X)
    probability = model.predict_proba(X)[:, 1]
    return {
        "accuracy": metrics.accuracy_score(y, predicted),
        "precision": metrics.precision_score(y, predicted),
        "recall": metrics.recall_score(y, predicted),
        "f1": metrics.f1_score(y, predicted),
        "roc_auc": metrics.roc_auc_score(y, probability),
        "log_loss": metrics.log_loss(y, probability),
    }


def run_demo(seed: int = 42, console: Any = None) -> DemoResult:
    """Train and track the demo models in the current workspace."""
    from rich.console import Console
    from rich.progress import Progress
    from sklearn.base import clone
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold, train_test_split

    import steward
    from steward import models

    console = console or Console()
    timeline = Timeline()
    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, stratify=data.target, random_state=seed
    )
    data_versions = [
        steward.data.add(
            f"breast-cancer-{split}",
            X.assign(target=y),
            description=f"scikit-learn breast-cancer {split} split (seed {seed})",
            tags={"source": "sklearn.datasets.load_breast_cancer", "split": split},
        )
        for split, X, y in (("train", X_train, y_train), ("test", X_test, y_test))
    ]
    timeline.mark("data versioned: " + ", ".join(v.ref for v in data_versions))
    data_checks = check_data(data_versions)
    steward.set_experiment(EXPERIMENT)
    candidates = _candidates(seed)
    run_ids: dict[str, str] = {}
    results: dict[str, dict[str, float]] = {}
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("training", total=len(candidates) * (folds.n_splits + 1))
        for name, model in candidates.items():
            progress.update(task, description=f"training {name}")
            with steward.start_run(name=name, tags={"dataset": "sklearn/breast_cancer"}) as run:
                run.log_params(
                    {
                        f"model.{key}": value
                        for key, value in model.get_params().items()
                        if not hasattr(value, "fit")
                    }
                )
                run.log_params({"seed": seed, "test_size": 0.25, "rows_train": len(X_train)})
                for data_version in data_versions:
                    steward.data.use(data_version)
                for fold, (fit_rows, check_rows) in enumerate(folds.split(X_train, y_train)):
                    fold_model = clone(model).fit(X_train.iloc[fit_rows], y_train.iloc[fit_rows])
                    fold_scores = _scores(
                        fold_model, X_train.iloc[check_rows], y_train.iloc[check_rows]
                    )
                    run.log_metrics(
                        {f"cv_{key}": value for key, value in fold_scores.items()}, step=fold
                    )
                    progress.advance(task)
                model.fit(X_train, y_train)
                scores = _scores(model, X_test, y_test)
                run.log_metrics({f"test_{key}": value for key, value in scores.items()})
                models.log(model, "model", input_example=X_test.head(5))
                run_ids[name] = run.id
                results[name] = scores
                progress.advance(task)
    best = max(results, key=lambda name: (results[name]["roc_auc"], results[name]["f1"]))
    datasets = tuple(version.ref for version in data_versions)
    timeline.mark(f"{len(candidates)} candidates trained and tracked; best: {best}")
    version = _register_champion(run_ids[best], best, results[best])
    timeline.mark(f"registered {REGISTERED_MODEL} v{version} as champion")
    governance = govern_champion(REGISTERED_MODEL, version, X_test, y_test, seed)
    card_path = _write_card(version)
    split = (X_train, y_train, X_test, y_test)
    serving, monitoring, loop = _serve_champion(split, seed, timeline)
    audit = steward.governance.verify_audit()
    governance = replace(
        governance,
        data_checks=data_checks,
        audit_events=audit.events,
        audit_intact=audit.ok,
        audit_head=audit.head_hash,
    )
    return DemoResult(
        EXPERIMENT,
        run_ids,
        best,
        run_ids[best],
        results,
        datasets,
        REGISTERED_MODEL,
        version,
        card_path,
        serving,
        monitoring,
        governance,
        loop,
        timeline,
    )


def _serve_champion(
    split: tuple[Any, Any, Any, Any], seed: int, timeline: Timeline
) -> tuple[ServingSummary | None, MonitoringSummary | None, LoopSummary | None]:
    """Serve the champion on loopback, send it the test split and feedback, read the log;
    then send a stream with drift injected partway, watch it with a monitor and close the
    loop when it alerts."""
    import importlib.util
    import time

    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("httpx") is None:
        return None, None, None
    import httpx

    from steward.serving import ServingConfig, read_predictions
    from steward.serving.app import create_app
    from steward.serving.server import BackgroundServer

    X_test, y_test = split[2], split[3]
    # The server follows the champion alias: a promotion is picked up within a quarter second.
    config = ServingConfig(reload_interval_s=0.25, log_flush_interval_s=0.2)
    server = BackgroundServer(create_app(f"models:/{REGISTERED_MODEL}@champion", config=config))
    latencies: list[float] = []
    labels: list[dict[str, Any]] = []
    bad: dict[str, int] = {}
    with server:
        server.wait_ready()
        timeline.mark(f"serving {REGISTERED_MODEL}@champion at {server.url}")
        with httpx.Client(base_url=server.url) as client:
            for (_, row), label in zip(X_test.iterrows(), y_test, strict=True):
                start = time.perf_counter()
                reply = client.post("/predict", json={"inputs": [row.to_dict()]})
                latencies.append((time.perf_counter() - start) * 1000)
                reply.raise_for_status()
                labels.append({"request_id": reply.json()["request_ids"][0], "label": int(label)})
            for name, body in (
                ("missing column", {"inputs": [{"mean radius": 1.0}]}),
                ("wrong type", {"inputs": [{**X_test.iloc[0].to_dict(), "mean radius": "big"}]}),
                ("not JSON", "{oops"),
            ):
                content = body if isinstance(body, str) else None
                reply = client.post(
                    "/predict",
                    json=None if content else body,
                    content=content,
                    headers={"content-type": "application/json"},
                )
                bad[name] = reply.status_code
            client.post("/feedback", json={"feedback": labels}).raise_for_status()
            timeline.mark(f"{len(latencies)} requests served, their labels sent as feedback")
            log = _wait_for_log(len(latencies))
            monitoring, loop = _watch_drift(client, split, seed, len(log), timeline)
    first_stream = {item["request_id"] for item in labels}
    log = read_predictions(REGISTERED_MODEL)
    log = log[log["request_id"].isin(first_stream)]
    labelled = log[log["label"].notna()]
    accuracy = float((labelled["prediction"] == labelled["label"]).mean()) if len(labelled) else 0.0
    ordered = sorted(latencies)
    serving = ServingSummary(
        server.url,
        len(latencies),
        ordered[len(ordered) // 2],
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        bad,
        len(log),
        len(labelled),
        accuracy,
    )
    return serving, monitoring, loop


DRIFTED_FEATURES = (
    "mean radius", "mean perimeter", "mean area", "mean concave points", "mean texture",
    "worst radius", "worst perimeter", "worst area", "worst concave points", "worst texture",
)  # fmt: skip
"""Features the demo's second stream inflates by 40% partway (size, shape and texture)."""
STREAM_ROWS = 100


def _drift(frame: Any) -> Any:
    """``frame`` as the drifted world measures it."""
    changed = frame.copy()
    changed[list(DRIFTED_FEATURES)] *= 1.4
    return changed


def _wait_for_log(rows: int, timeout_s: float = 10.0) -> Any:
    """The prediction log once it holds ``rows`` rows (it is written off the request path)."""
    import time

    from steward.serving import read_predictions

    deadline = time.monotonic() + timeout_s
    while True:
        log = read_predictions(REGISTERED_MODEL)
        if len(log) >= rows or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def _watch_drift(
    client: Any, split: tuple[Any, Any, Any, Any], seed: int, logged: int, timeline: Timeline
) -> tuple[MonitoringSummary, LoopSummary]:
    """Send a calm stream then a drifted one; a monitor flags the second, alerting a webhook;
    the alert triggers retraining, and the loop closes (``demo_loop.close_loop``)."""
    import time

    import numpy as np

    from steward import models, monitoring
    from steward.demo_loop import close_loop
    from steward.workspace import current_workspace

    started = time.perf_counter()
    X_train, y_train, X_test, y_test = split
    rng = np.random.default_rng(seed)
    receiver = WebhookReceiver()
    name = f"{REGISTERED_MODEL}-drift"
    try:
        monitoring.create_monitor(
            name,
            model=f"{REGISTERED_MODEL}@champion",
            window=f"{STREAM_ROWS} rows",
            schedule="0 * * * *",
            rules=["drift.share > 0.2"],
            channels=[f"webhook:{receiver.url}"],
            drift_share=0.2,  # a fifth of the features drifting is dataset drift, as the rule says
            replace=True,
        )
        models.set_policy(REGISTERED_MODEL, promote="auto", channels=[f"webhook:{receiver.url}"])
        results = []
        drifted_stream: tuple[list[str], Any] = ([], None)
        for drifted in (False, True):
            picked = rng.integers(0, len(X_test), STREAM_ROWS)
            rows = X_test.iloc[picked].reset_index(drop=True)
            ids = send_stream(client, _drift(rows) if drifted else rows)
            if drifted:
                drifted_stream = (ids, np.asarray(y_test)[picked])
            timeline.mark(f"{STREAM_ROWS} requests" + (" with drift injected" if drifted else ""))
            logged += STREAM_ROWS
            _wait_for_log(logged)
            results.append(monitoring.run_monitor(name))
        calm, drifted_window = results
        fired = [notice for notice in drifted_window.alerts if notice.event == "fired"]
        timeline.mark(
            f"monitor flags drift in {drifted_window.drift_share or 0:.0%} of features; "
            + (f"alert fired to the webhook ({fired[0].rule})" if fired else "no alert")
        )
        loop = close_loop(
            client,
            model=REGISTERED_MODEL,
            monitor=name,
            drifted=drifted_stream,
            X_train=X_train,
            y_train=y_train,
            X_test=X_test,
            y_test=y_test,
            shift=_drift,
            rows=STREAM_ROWS,
            seed=seed,
            timeline=timeline,
        )
        folder = Path(current_workspace().settings.home) / "reports"
        report = monitoring.write_monitor_report(name, folder / f"{name}.html")
        timeline.mark(f"report written: {report}")
    finally:
        receiver.close()
    summary = MonitoringSummary(
        name,
        calm.drift_share,
        drifted_window.drift_share,
        tuple(drifted_window.drifted),
        tuple(receiver.bodies),
        report,
        time.perf_counter() - started,
    )
    return summary, loop


def _register_champion(run_id: str, model_name: str, scores: dict[str, float]) -> int:
    """Register the best run's model, approve it, alias it ``champion``, fill its card."""
    import steward

    models = steward.models
    version = models.register(
        f"runs:/{run_id}/model",
        REGISTERED_MODEL,
        description=f"{model_name} trained by 'steward demo'",
    )
    models.approve(
        REGISTERED_MODEL,
        version.version,
        f"best test ROC AUC of the demo candidates ({scores['roc_auc']:.4f})",
    )
    models.set_alias(
        REGISTERED_MODEL, "champion", version.version, reason=f"demo winner: {model_name}"
    )
    models.set_card_fields(
        REGISTERED_MODEL,
        version.version,
        intended_use=(
            "Demonstration only: classify breast-mass biopsies (FNA image features) as "
            "malignant or benign, to show Steward's lifecycle. Not for clinical use."
        ),
        limitations=(
            "Trained on 426 rows of the Wisconsin diagnostic data set from one institution; "
            "performance on other populations, imaging devices or protocols is unknown."
        ),
        ethical_considerations=(
            "A false negative delays a cancer diagnosis; any real use needs clinical "
            "validation, subgroup analysis and a human in the loop."
        ),
    )
    return version.version


def _write_card(version: int) -> Path:
    """Write the champion's card (Markdown and HTML) under the workspace's ``cards``."""
    import steward
    from steward.workspace import current_workspace

    folder = Path(current_workspace().settings.home) / "cards"
    markdown, _ = steward.models.write_card(REGISTERED_MODEL, version, folder)
    return markdown


def print_demo(result: DemoResult, console: Any) -> None:
    """Print the comparison table and where things are stored."""
    from rich.table import Table

    from steward.workspace import current_workspace

    table = Table(title=f"Experiment '{result.experiment}': test-set metrics", header_style="bold")
    columns = ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"]
    table.add_column("model")
    table.add_column("run id")
    for column in columns:
        table.add_column(column, justify="right")
    for name, scores in sorted(result.metrics.items(), key=lambda item: -item[1]["roc_auc"]):
        marker = " ★" if name == result.best_model else ""
        table.add_row(
            name + marker, result.run_ids[name][:12], *(f"{scores[c]:.4f}" for c in columns)
        )
    console.print(table)
    _print_lineage(result, console)
    settings = current_workspace().settings
    console.print(f"best model: [bold]{result.best_model}[/bold] (run {result.best_run_id})")
    if result.registered_model:
        console.print(
            f"registered: [bold]{result.registered_model}[/bold] v{result.registered_version} "
            "(approved, alias 'champion')"
        )
        console.print(f"model card:     {result.card_path}")
    if result.serving is not None:
        serving = result.serving
        refused = ", ".join(f"{name} → {status}" for name, status in serving.bad_requests.items())
        console.print(
            f"served champion at {serving.url}: {serving.requests} requests, "
            f"p50 {serving.p50_ms:.1f} ms, p99 {serving.p99_ms:.1f} ms; bad requests: {refused}"
        )
        console.print(
            f"prediction log: {serving.logged_rows} rows, {serving.labelled_rows} with feedback "
            f"labels, live accuracy {serving.accuracy:.3f}"
        )
    if result.monitoring is not None:
        _print_monitoring(result.monitoring, console)
    if result.governance is not None:
        print_governance(result.governance, console)
    if result.loop is not None and result.timeline is not None:
        print_loop(result.loop, result.timeline, console)
    console.print(f"metadata store: {settings.store_url}")
    console.print(f"blob store:     {settings.blob_url}")
    console.print(
        "next: steward runs list -e breast-cancer-diagnosis -o 'metrics.test_roc_auc DESC'"
    )


def _print_lineage(result: DemoResult, console: Any) -> None:
    """Print which runs read each dataset version."""
    from rich.tree import Tree

    import steward

    if not result.datasets:
        return
    tree = Tree("[bold]lineage: data version → runs[/bold]")
    for ref in result.datasets:
        version = steward.data.get(ref)
        node = tree.add(
            f"{ref}  ({version.rows} rows x {version.columns} columns, {version.digest[:19]}…)"
        )
        for edge in version.lineage():
            if edge.direction == "input":
                node.add(f"{edge.run_name}  (run {edge.run_id[:12]})")
    console.print(tree)


def _print_monitoring(summary: MonitoringSummary, console: Any) -> None:
    """Print what the monitor saw, the alerts the webhook got and the report's path."""

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    console.print(
        f"monitor [bold]{summary.monitor}[/bold] (rule drift.share > 0.2): calm window "
        f"{share(summary.calm_share)} of features drifted; after drift was injected "
        f"{share(summary.drift_share)} ({', '.join(summary.drifted) or 'none'})"
    )
    for body in summary.webhook_bodies:
        console.print(f"webhook received: [bold]{body.get('title')}[/bold]")
    if not summary.webhook_bodies:
        console.print("webhook received: nothing")
    console.print(f"monitoring report: {summary.report_path}")
