"""Monitors: a deployed model's prediction log — or any table of predictions and
features — watched against a reference, window by window.

::

    steward.monitoring.create_monitor(
        "cancer", model="breast-cancer-classifier@champion", window="1h",
        schedule="0 * * * *", rules=["drift.share > 0.3"], channels=["webhook:http://…"],
    )
    steward.monitoring.create_monitor(
        "nightly-scores", table="/data/scores/*.parquet", timestamp_column="scored_at",
        reference="clinic-train:3", window="1d",
    )

This module holds a monitor's definition: its specs (window, schedule, rules,
channels, reference, source) are checked when it is created and stored as
given. Running one is ``monitors/run.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from steward.errors import InvalidInput
from steward.monitoring.alerts.channels import AlertChannel, channel
from steward.monitoring.alerts.rules import SEVERITIES, Rule, parse_rule
from steward.monitoring.monitors.schedule import WindowSpec, parse_cron, parse_window
from steward.monitoring.monitors.sources import check_table, require_table
from steward.workspace import workspace_scope

if TYPE_CHECKING:
    from steward.store.monitoring import MonitorRecord
    from steward.workspace import Workspace


@dataclass(frozen=True)
class Monitor:
    """A stored monitor definition."""

    id: str
    name: str
    model: str | None
    reference: str | None
    window: str
    schedule: str | None
    rules: tuple[str, ...]
    channels: tuple[str, ...]
    features: tuple[str, ...] | None
    prediction_column: str
    target_column: str | None
    segment: str | None
    drift_share: float
    cooldown_s: float
    created_at: datetime
    created_by: str
    table: str | None = None
    timestamp_column: str | None = None
    probability_column: str | None = None

    @property
    def source(self) -> str:
        """What the monitor watches, in words."""
        if self.table is None:
            return f"the prediction log of {self.model}"
        return f"table {self.table}" + (f" (model {self.model})" if self.model else "")

    def next_run(self, after: datetime | None = None) -> datetime | None:
        """When the schedule next fires after ``after`` (default now; None without schedule)."""
        if not self.schedule:
            return None
        return parse_cron(self.schedule).next_after(after or datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat()
        data["rules"] = list(self.rules)
        data["channels"] = [_redact(spec) for spec in self.channels]
        data["features"] = None if self.features is None else list(self.features)
        return data


def workspace_or_current(workspace: Workspace | None) -> Workspace:
    """``workspace``, or the current workspace when None."""
    from steward.workspace import current_workspace

    return workspace or current_workspace()


def _redact(spec: str) -> str:
    """A channel spec without credentials in the URL's user part."""
    kind, _, target = spec.partition(":")
    if "@" in target and "://" in target:
        scheme, _, rest = target.partition("://")
        host = rest.split("@", 1)[1]
        return f"{kind}:{scheme}://***@{host}"
    return spec


def parse_channel(spec: str) -> AlertChannel:
    """A channel from its spec: ``webhook:URL``, ``slack:URL``, ``email:ADDR[,ADDR]`` or ``log``.

    E-mail options follow a ``?``: ``email:ops@example.org?host=smtp.local&port=25&sender=…``.

    Raises:
        InvalidInput: the spec is malformed.
    """
    kind, _, target = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "log":
        return channel("log")
    if kind in ("webhook", "slack"):
        if not target:
            raise InvalidInput(f"channel {spec!r} needs a URL, e.g. '{kind}:https://…'.")
        return channel(kind, url=target)
    if kind == "email":
        addresses, _, query = target.partition("?")
        recipients = [a.strip() for a in addresses.split(",") if a.strip()]
        if not recipients or not all("@" in a for a in recipients):
            raise InvalidInput(f"channel {spec!r} needs e-mail addresses, e.g. 'email:ops@org'.")
        options = {key: values[-1] for key, values in parse_qs(query).items()}
        try:
            port = int(options.get("port", 25))
        except ValueError:
            raise InvalidInput(f"channel {spec!r}: port must be a number.") from None
        return channel(
            "email",
            host=options.get("host", "localhost"),
            port=port,
            sender=options.get("sender", "steward@localhost"),
            recipients=recipients,
        )
    raise InvalidInput(
        f"channel {spec!r} is not understood; use 'webhook:URL', 'slack:URL', "
        "'email:ADDRESS' or 'log'."
    )


def rule_from_spec(spec: str) -> Rule:
    """A rule from ``"expression"`` or ``"severity: expression"``."""
    severity, colon, rest = spec.partition(":")
    if colon and severity.strip().lower() in SEVERITIES:
        return parse_rule(rest.strip(), severity=severity.strip().lower())
    return parse_rule(spec)


def _check_reference(reference: str | None) -> None:
    if reference is None or reference in ("lineage", "training"):
        return
    if reference.startswith("window:"):
        reference_window(reference)
    elif reference.startswith("dataset:") and not reference.removeprefix("dataset:"):
        raise InvalidInput("reference 'dataset:' names no dataset; use 'dataset:NAME:VERSION'.")


def reference_dataset(reference: str | None) -> str | None:
    """The dataset version (``NAME:VERSION``) a reference names, or None for lineage
    and windows of predictions."""
    if reference is None or reference in ("lineage", "training"):
        return None
    if reference.startswith("window:"):
        return None
    return reference.removeprefix("dataset:")


def reference_window(reference: str) -> tuple[datetime, datetime]:
    """The (start, end) of a ``window:START/END`` reference.

    Raises:
        InvalidInput: the window is malformed or empty.
    """
    start_text, slash, end_text = reference.removeprefix("window:").partition("/")
    try:
        start = aware(datetime.fromisoformat(start_text))
        end = aware(datetime.fromisoformat(end_text)) if slash else None
    except ValueError:
        end = None
        start = None
    if start is None or end is None or end <= start:
        raise InvalidInput(
            f"reference {reference!r} is not understood; a window of predictions is "
            "'window:START/END' in ISO 8601, e.g. 'window:2026-01-01T00:00/2026-01-08T00:00'."
        )
    return start, end


def aware(moment: datetime) -> datetime:
    """``moment``, read as UTC when it has no time zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _from_record(record: MonitorRecord) -> Monitor:
    config = record.config
    features = config.get("features")
    return Monitor(
        id=record.id,
        name=record.name,
        model=record.model or None,
        reference=config.get("reference"),
        window=config["window"],
        schedule=config.get("schedule"),
        rules=tuple(config.get("rules", ())),
        channels=tuple(config.get("channels", ())),
        features=None if features is None else tuple(features),
        prediction_column=config.get("prediction_column", "prediction"),
        target_column=config.get("target_column"),
        segment=config.get("segment"),
        drift_share=float(config.get("drift_share", 0.5)),
        cooldown_s=float(config.get("cooldown_s", 6 * 3600)),
        created_at=record.created_at,
        created_by=record.created_by,
        table=config.get("table"),
        timestamp_column=config.get("timestamp_column"),
        probability_column=config.get("probability_column"),
    )


def _check_source(
    model: str | None,
    table: str | None,
    reference: str | None,
    window: WindowSpec,
    timestamp_column: str | None,
) -> None:
    from steward.models.uri import parse_model_uri

    if model is None and table is None:
        raise InvalidInput(
            "a monitor watches a served model (--model NAME@ALIAS) or a table of predictions "
            "and features (--table PATH|dataset:NAME); give one."
        )
    if model is not None:
        parsed = parse_model_uri(_model_uri(model), allow_short=True)
        if parsed.name is None:
            raise InvalidInput(f"monitor a registered model (name@alias or name/3), not {model!r}.")
    if table is None:
        return
    check_table(table)
    if model is None and (reference is None or reference in ("lineage", "training")):
        raise InvalidInput(
            "a monitor of a table without a model cannot find its training data through "
            "lineage; give a reference (--reference NAME:VERSION or window:START/END), or the "
            "model that scored the table (--model NAME@ALIAS)."
        )
    timed = window.duration is not None or (reference or "").startswith("window:")
    if timed and not timestamp_column:
        raise InvalidInput(
            f"window {window.text!r} of a table needs its timestamp column (--timestamp-column "
            "NAME); without one, use a window of rows such as '1000 rows'."
        )


def create_monitor(
    name: str,
    model: str | None = None,
    reference: str | None = None,
    window: str = "1d",
    schedule: str | None = None,
    rules: Sequence[str] = (),
    channels: Sequence[str] = (),
    features: Sequence[str] | None = None,
    prediction_column: str = "prediction",
    target_column: str | None = None,
    segment: str | None = None,
    drift_share: float = 0.5,
    cooldown: timedelta = timedelta(hours=6),
    replace: bool = False,
    workspace: Workspace | None = None,
    *,
    table: str | None = None,
    timestamp_column: str | None = None,
    probability_column: str | None = None,
) -> Monitor:
    """Define a monitor of a served model or of a table of predictions and features.

    Args:
        name: the monitor's name (also the source of its alerts, as ``monitor:NAME``).
        model: the watched model, ``name@alias`` or ``name/VERSION`` (``models:/`` optional);
            with ``table``, the model that scored it (for the lineage reference).
        reference: None (the training dataset version, from lineage), a dataset version
            ``NAME:VERSION`` (or ``dataset:NAME:VERSION``), or a window of the watched
            predictions ``window:START/END`` (ISO 8601).
        window: what each run evaluates: ``"1h"``, ``"1d"``… before now, or ``"N rows"``.
        schedule: a five-field cron expression (stored for schedulers; validated here).
        rules: alert rules, e.g. ``"drift.share > 0.3"`` or ``"critical: performance.f1 < 0.8"``.
        channels: ``webhook:URL``, ``slack:URL``, ``email:ADDR`` or ``log``.
        features: input columns to check (default: every logged input, or every column
            of the table that is not a prediction, label, probability or timestamp).
        prediction_column: the name predictions get in the reference (its label column stands
            in when the reference has no predictions); in a table, its prediction column.
        target_column: the label column of the reference dataset (default: its one column
            that is not an input) and of the table (default: ``label`` when present).
        segment: an input or log column to split realised performance by.
        drift_share: the share of drifted features that means dataset drift.
        cooldown: how long a persisting alert stays quiet before a reminder.
        replace: overwrite a monitor of the same name.
        workspace: where to store it (default: the current workspace).
        table: watch this table instead of the model's prediction log: ``dataset:NAME``
            (its latest version at each run), ``dataset:NAME:VERSION``, or Parquet / CSV
            files (a path, folder, glob or fsspec URL), read again at each run.
        timestamp_column: the table's time column (needed for time windows).
        probability_column: the table's positive-class probability (for estimated
            performance and ROC AUC).

    Raises:
        InvalidInput: a malformed window, schedule, rule, channel, reference or source,
            or files or a glob of the table that match nothing now.
        NotFound: the model (or alias, or version), the table's dataset or the
            reference dataset version does not exist.
        Conflict: a monitor of this name exists and ``replace`` is False.
    """
    from steward.store.validation import check_name

    check_name("monitor", name)
    _check_source(model, table, reference, parse_window(window), timestamp_column)
    if schedule:
        parse_cron(schedule)
    parsed_rules = [rule_from_spec(rule) for rule in rules]
    if len({rule.key for rule in parsed_rules}) != len(parsed_rules):
        raise InvalidInput("two alert rules of a monitor are the same; give each rule once.")
    for spec in channels:
        parse_channel(spec)
    _check_reference(reference)
    if not 0 < drift_share <= 1:
        raise InvalidInput(f"drift_share must be in (0, 1], not {drift_share!r}.")
    ws = workspace_or_current(workspace)
    with workspace_scope(ws):  # what the monitor names must exist now
        if model is not None:
            resolve_model(model)  # raises NotFound with the registry's message
        if table is not None:
            require_table(table)
        dataset = reference_dataset(reference)
        if dataset is not None:
            from steward.data.versions import resolve

            resolve(dataset)  # raises NotFound naming the dataset or version
    config = {
        "reference": reference,
        "window": window,
        "schedule": schedule,
        "rules": list(rules),
        "channels": list(channels),
        "features": None if features is None else list(features),
        "prediction_column": prediction_column,
        "target_column": target_column,
        "segment": segment,
        "drift_share": drift_share,
        "cooldown_s": cooldown.total_seconds(),
        "table": table,
        "timestamp_column": timestamp_column,
        "probability_column": probability_column,
    }
    short = "" if model is None else model.removeprefix("models:/")
    record = ws.store.monitoring.create_monitor(name, short, config, ws.actor, replace=replace)
    return _from_record(record)


def _model_uri(model: str) -> str:
    return model if model.startswith("models:/") else f"models:/{model}"


def resolve_model(model: str) -> Any:
    """The model version a monitor's ``model`` (``name@alias``, ``name/3``) points to now.

    Raises:
        NotFound: no such model, version or alias.
    """
    from steward.models.registry import resolve

    return resolve(_model_uri(model))


def get_monitor(name: str, workspace: Workspace | None = None) -> Monitor:
    """The monitor called ``name``.

    Raises:
        NotFound: no such monitor.
    """
    return _from_record(workspace_or_current(workspace).store.monitoring.get_monitor(name))


def list_monitors(workspace: Workspace | None = None) -> list[Monitor]:
    """Every monitor, by name."""
    records = workspace_or_current(workspace).store.monitoring.list_monitors()
    return [_from_record(record) for record in records]


def delete_monitor(name: str, workspace: Workspace | None = None) -> None:
    """Remove a monitor and its stored results (alerts stay in the alert history).

    Raises:
        NotFound: no such monitor.
    """
    ws = workspace_or_current(workspace)
    ws.store.monitoring.delete_monitor(name, ws.actor)
