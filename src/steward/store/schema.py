"""The one SQLAlchemy schema of every stored entity.

Conventions: every table has an integer surrogate ``pk`` used for joins and
a public string ``id`` where users see one; times are integer milliseconds
since the Unix epoch (UTC); who wrote a row is recorded beside it. Changes to
this file need an Alembic migration (``store/migrations/versions``) and a new
``SCHEMA_HEAD``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from steward.store.validation import NAME_LENGTH, PARAM_VALUE_LENGTH

SCHEMA_HEAD = "0013"
"""The Alembic revision this code writes; checked against the store on open."""


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = Table(
    "experiments",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("lifecycle", String(16), nullable=False, server_default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("experiment_pk", Integer, ForeignKey("experiments.pk"), nullable=False),
    Column("parent_pk", Integer, ForeignKey("runs.pk"), nullable=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lifecycle", String(16), nullable=False, server_default="active"),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("system_info_digest", String(80), nullable=True),
    # Heartbeats: the run's process says it is alive until ``alive_until``; a RUNNING
    # run past it is marked KILLED (``heartbeat_lost``) and revived if it speaks again.
    Column("heartbeat_at", BigInteger, nullable=True),
    Column("alive_until", BigInteger, nullable=True),
    Column("heartbeat_lost", Boolean, nullable=False, server_default=false()),
    Index("ix_runs_experiment_start", "experiment_pk", "start_time"),
    Index("ix_runs_parent", "parent_pk"),
    Index("ix_runs_status_alive_until", "status", "alive_until"),
)

write_batches = Table(
    "write_batches",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=False),
    Column("written_by", String(NAME_LENGTH), nullable=False),
    Column("written_at", BigInteger, nullable=False),
    Column("metric_count", Integer, nullable=False),
    Column("param_count", Integer, nullable=False),
    Column("tag_count", Integer, nullable=False),
)

params = Table(
    "params",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("key", String(NAME_LENGTH), primary_key=True),
    Column("value", String(PARAM_VALUE_LENGTH), nullable=False),
    Column("batch_pk", Integer, ForeignKey("write_batches.pk"), nullable=False),
    Index("ix_params_key_value", "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("key", String(NAME_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    Column("batch_pk", Integer, ForeignKey("write_batches.pk"), nullable=False),
)

metric_chunks = Table(
    "metric_chunks",
    metadata,
    # The points one write logged for one key, packed: a run logging 100,000
    # points in ten metrics adds ten rows, not 100,000 (see tracking_sql.py).
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=False),
    Column("key", String(NAME_LENGTH), nullable=False),
    Column("batch_pk", Integer, ForeignKey("write_batches.pk"), nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_step", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("points", LargeBinary, nullable=False),
    Index("ix_metric_chunks_run_key", "run_pk", "key"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("key", String(NAME_LENGTH), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=True),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(80), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    # "files" (a file, folder or glob) or "table" (an in-memory table).
    Column("kind", String(16), nullable=False),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("dataset_pk", Integer, ForeignKey("datasets.pk"), nullable=False),
    Column("version", Integer, nullable=False),
    # The digest of the manifest blob: the identity of the content.
    Column("digest", String(80), nullable=False),
    Column("profile_digest", String(80), nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("row_count", BigInteger, nullable=True),
    Column("column_count", Integer, nullable=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    UniqueConstraint("dataset_pk", "version"),
    UniqueConstraint("dataset_pk", "digest"),
)

dataset_version_tags = Table(
    "dataset_version_tags",
    metadata,
    Column("version_pk", Integer, ForeignKey("dataset_versions.pk"), primary_key=True),
    Column("key", String(NAME_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
)

dataset_aliases = Table(
    "dataset_aliases",
    metadata,
    Column("dataset_pk", Integer, ForeignKey("datasets.pk"), primary_key=True),
    Column("alias", String(NAME_LENGTH), primary_key=True),
    Column("version_pk", Integer, ForeignKey("dataset_versions.pk"), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(NAME_LENGTH), nullable=False),
)

dataset_lineage = Table(
    "dataset_lineage",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("version_pk", Integer, ForeignKey("dataset_versions.pk"), primary_key=True),
    # "input": the run read the version; "output": the run produced it.
    Column("direction", String(8), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_dataset_lineage_version", "version_pk"),
)

# -- model registry -------------------------------------------------------------

registered_models = Table(
    "registered_models",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("model_pk", Integer, ForeignKey("registered_models.pk"), primary_key=True),
    Column("key", String(NAME_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("model_pk", Integer, ForeignKey("registered_models.pk"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=True),
    Column("artifact_path", String(1024), nullable=False),
    # Digest of the model's metadata blob (flavor, signature, lock, file digests).
    Column("metadata_digest", String(80), nullable=False),
    Column("flavor", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=True),
    # JSON object of the model card fields people fill in (intended use…).
    Column("card_fields", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_model_versions_model_version", "model_pk", "version", unique=True),
)

model_version_metrics = Table(
    "model_version_metrics",
    metadata,
    Column("version_pk", Integer, ForeignKey("model_versions.pk"), primary_key=True),
    Column("key", String(NAME_LENGTH), primary_key=True),
    Column("value", Float(precision=53), nullable=True),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_pk", Integer, ForeignKey("registered_models.pk"), primary_key=True),
    Column("alias", String(NAME_LENGTH), primary_key=True),
    Column("version_pk", Integer, ForeignKey("model_versions.pk"), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(NAME_LENGTH), nullable=False),
)

# -- monitoring ---------------------------------------------------------------

alerts = Table(
    "alerts",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("source", String(NAME_LENGTH), nullable=False),
    Column("rule", String(NAME_LENGTH), nullable=False),
    Column("expression", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("metric", String(NAME_LENGTH), nullable=False),
    Column("value", Float(precision=53), nullable=True),
    Column("threshold", Float(precision=53), nullable=False),
    Column("worst_value", Float(precision=53), nullable=True),
    Column("message", Text, nullable=False),
    Column("fired_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("notified_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("acknowledged_at", BigInteger, nullable=True),
    Column("acknowledged_by", String(NAME_LENGTH), nullable=True),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Index("ix_alerts_source_rule_status", "source", "rule", "status"),
    Index("ix_alerts_status_fired", "status", "fired_at"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("alert_pk", Integer, ForeignKey("alerts.pk"), nullable=False),
    Column("channel", String(NAME_LENGTH), nullable=False),
    Column("event", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_alert_deliveries_status", "status"),
    Index("ix_alert_deliveries_alert", "alert_pk"),
)

alert_rule_states = Table(
    "alert_rule_states",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("source", String(NAME_LENGTH), nullable=False),
    Column("rule", String(NAME_LENGTH), nullable=False),
    Column("breaches", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("source", "rule"),
)

events = Table(
    "events",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("topic", String(NAME_LENGTH), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Index("ix_events_topic_pk", "topic", "pk"),
)

monitors = Table(
    "monitors",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    # What is watched: a model reference ("name@alias", "name/3") as the user gave it.
    Column("model", String(NAME_LENGTH), nullable=False),
    # The rest of the definition (reference, window, schedule, rules, channels…) as JSON.
    Column("config", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

monitor_results = Table(
    "monitor_results",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("monitor_pk", Integer, ForeignKey("monitors.pk"), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("label_count", Integer, nullable=False),
    Column("drift_share", Float(precision=53), nullable=True),
    Column("dataset_drift", Boolean, nullable=True),
    # "ok", or "empty" when the window held no predictions.
    Column("status", String(16), nullable=False),
    Column("model_version", Integer, nullable=True),
    # The full result (drift, quality, performance, summaries, notes) as a JSON blob.
    Column("blob_digest", String(80), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Index("ix_monitor_results_monitor_end", "monitor_pk", "window_end"),
)

# -- serving: the prediction log index and ground-truth feedback ---------------------

prediction_segments = Table(
    "prediction_segments",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    # Model name as served (a registered model, or a bundle's name): no foreign key,
    # since a bundle serves without a registry.
    Column("model", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=True),
    # UTC day of the rows, YYYY-MM-DD: the partition.
    Column("day", String(10), nullable=False),
    # A Parquet file in the blob store.
    Column("blob_digest", String(80), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("min_time", BigInteger, nullable=False),
    Column("max_time", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_prediction_segments_model_day", "model", "day"),
)

prediction_requests = Table(
    "prediction_requests",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    # Not unique: a shadow's prediction shares the request id of the answer it mirrors.
    Column("request_id", String(64), nullable=False),
    Column("segment_pk", Integer, ForeignKey("prediction_segments.pk"), nullable=False),
    Column("model", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=True),
    Column("at", BigInteger, nullable=False),
    Index("ix_prediction_requests_request_id", "request_id"),
    Index("ix_prediction_requests_model_at", "model", "at"),
)

prediction_request_ranges = Table(
    "prediction_request_ranges",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    # Batch scoring's ids, indexed a chunk at a time: the ids ``prefix + "0"`` to
    # ``prefix + str(row_count - 1)``, all in one segment.
    Column("prefix", String(64), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("segment_pk", Integer, ForeignKey("prediction_segments.pk"), nullable=False),
    Column("model", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=True),
    Column("at", BigInteger, nullable=False),
    Index("ix_prediction_request_ranges_prefix", "prefix"),
    Index("ix_prediction_request_ranges_model_at", "model", "at"),
)

prediction_feedback = Table(
    "prediction_feedback",
    metadata,
    Column("request_id", String(64), primary_key=True),
    # The label as JSON (a number, a string, a list…).
    Column("label", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("received_by", String(NAME_LENGTH), nullable=False),
)


# -- governance: the audit log, check results and model reports ---------------------

audit_events = Table(
    "audit_events",
    metadata,
    # The position in the chain (1, 2, 3…), assigned from ``audit_head`` under its lock.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(NAME_LENGTH), nullable=False),
    # What happened, e.g. "run.end", "model.alias.set", "alert.ack".
    Column("action", String(64), nullable=False),
    # What it happened to, e.g. "run:<id>", "model:name/3", "model:name@champion".
    Column("subject", String(1024), nullable=False),
    Column("from_state", Text, nullable=True),
    Column("to_state", Text, nullable=True),
    Column("reason", Text, nullable=True),
    # Anything else worth keeping, as canonical JSON (sorted keys).
    Column("details", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_subject", "subject"),
    Index("ix_audit_events_action", "action"),
    Index("ix_audit_events_at", "at"),
)

audit_head = Table(
    "audit_head",
    metadata,
    # One row (id 1): the last event's sequence number and hash. Every append
    # updates it in the same transaction, which serialises concurrent writers.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

check_runs = Table(
    "check_runs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    # The suite's name (a file stem, or "gate", "fairness"…).
    Column("suite", String(NAME_LENGTH), nullable=False),
    # What was checked: a dataset version, a model version, or both (a model on data).
    Column("dataset_version_pk", Integer, ForeignKey("dataset_versions.pk"), nullable=True),
    Column("model_version_pk", Integer, ForeignKey("model_versions.pk"), nullable=True),
    Column("passed", Boolean, nullable=False),
    Column("check_count", Integer, nullable=False),
    Column("failed_count", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Index("ix_check_runs_dataset_version", "dataset_version_pk"),
    Index("ix_check_runs_model_version", "model_version_pk"),
)

check_results = Table(
    "check_results",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("run_pk", Integer, ForeignKey("check_runs.pk"), nullable=False),
    Column("name", String(1024), nullable=False),
    # "data", "model", "fairness"… (what kind of check).
    Column("kind", String(32), nullable=False),
    # "error" (a failure fails the run) or "warning" (reported only).
    Column("severity", String(16), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("value", Float(precision=53), nullable=True),
    Column("threshold", Float(precision=53), nullable=True),
    # JSON: what was compared, failing counts, sampled failing rows, intervals…
    Column("details", Text, nullable=True),
    Index("ix_check_results_run", "run_pk"),
)

model_reports = Table(
    "model_reports",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("model_version_pk", Integer, ForeignKey("model_versions.pk"), nullable=False),
    # "explanation" or "fairness".
    Column("kind", String(32), nullable=False),
    # How it was made: "permutation", "shap", "groups"…
    Column("method", String(64), nullable=False),
    # The report itself as JSON (feature importances, per-group metrics…).
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Index("ix_model_reports_version_kind", "model_version_pk", "kind"),
)


# -- pipelines: runs of a step graph, their steps, and the step cache -----------------

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    # The tracking run that is this pipeline run (its id is the pipeline run's id).
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=False, unique=True),
    Column("pipeline", String(NAME_LENGTH), nullable=False),
    # Where the definition lives: "module:function" or "/path/file.py:function".
    Column("target", Text, nullable=False),
    # The pipeline's parameters and what it returns (JSON).
    Column("params", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("executor", String(32), nullable=False),
    Column("cache", Boolean, nullable=False),
    Column("resumed_from_pk", Integer, ForeignKey("pipeline_runs.pk"), nullable=True),
    # The process that drives the run, to tell a crashed run from a running one.
    Column("host", String(NAME_LENGTH), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Index("ix_pipeline_runs_pipeline", "pipeline", "pk"),
)

pipeline_steps = Table(
    "pipeline_steps",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("pipeline_run_pk", Integer, ForeignKey("pipeline_runs.pk"), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    # Topological position: a step comes after every step it depends on.
    Column("position", Integer, nullable=False),
    Column("function", Text, nullable=False),
    # JSON: the steps it depends on, its inputs (argument -> upstream output), its params.
    Column("depends_on", Text, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("params", Text, nullable=False),
    # pending, running, completed, cached, failed or skipped.
    Column("status", String(16), nullable=False),
    # The step's nested tracking run (none while pending, or when skipped).
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=True),
    Column("cache_key", String(80), nullable=True),
    Column("code_digest", String(80), nullable=True),
    # For a cached step: the step that computed the outputs it reuses.
    Column("cached_from_pk", Integer, ForeignKey("pipeline_steps.pk"), nullable=True),
    # JSON list of the outputs: name, kind, digest, size, type.
    Column("outputs", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Column("cpu_seconds", Float(precision=53), nullable=True),
    Column("peak_memory_bytes", BigInteger, nullable=True),
    # Where it ran: host and process (and Ray node).
    Column("worker", String(NAME_LENGTH), nullable=True),
    UniqueConstraint("pipeline_run_pk", "name"),
    Index("ix_pipeline_steps_cache_key", "cache_key"),
)

pipeline_cache = Table(
    "pipeline_cache",
    metadata,
    # digest of (code digest, parameters, input digests).
    Column("key", String(80), primary_key=True),
    Column("function", Text, nullable=False),
    Column("code_digest", String(80), nullable=False),
    Column("outputs", Text, nullable=False),
    Column("step_pk", Integer, ForeignKey("pipeline_steps.pk"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)


# -- auth: users of a team server and their API tokens -------------------------------------

users = Table(
    "users",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    # viewer, editor, approver or admin (steward.auth.Role).
    Column("role", String(16), nullable=False),
    # scrypt hash for browser sign-in; NULL: tokens only.
    Column("password_hash", Text, nullable=True),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("user_pk", Integer, ForeignKey("users.pk"), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    # "api" (bearer tokens) or "session" (a browser sign-in).
    Column("kind", String(16), nullable=False),
    # SHA-256 of the token: the token itself is never stored (see steward.auth).
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Index("ix_api_tokens_user_pk", "user_pk"),
)


# -- agent: triggers, their firings, the agent's lease and retraining budgets -------------

triggers = Table(
    "triggers",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    # The pipeline it runs, "module:function", and its parameters (JSON object).
    Column("pipeline", Text, nullable=False),
    Column("params", Text, nullable=False),
    # cron, new-data, alert or performance; the kind's spec as JSON.
    Column("kind", String(16), nullable=False),
    Column("spec", Text, nullable=False),
    # The registered model whose retraining budget its firings count against.
    Column("model", String(NAME_LENGTH), nullable=True),
    Column("paused", Boolean, nullable=False, server_default=false()),
    # How far it has looked: a cron slot (ms), an audit sequence number or an event pk.
    Column("cursor", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

firings = Table(
    "firings",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    # NULL once the trigger is deleted; its name and model stay for history and budgets.
    Column("trigger_pk", Integer, ForeignKey("triggers.pk"), nullable=True),
    Column("trigger_name", String(NAME_LENGTH), nullable=False),
    Column("model", String(NAME_LENGTH), nullable=True),
    # What it answers (a cron slot, a dataset version, an alert…): one firing per key.
    Column("key", String(NAME_LENGTH), nullable=False),
    Column("cause", Text, nullable=False),
    # planned, started, succeeded, failed or skipped.
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("pipeline_run_id", String(32), nullable=True),
    Column("planned_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Column("cpu_seconds", Float(precision=53), nullable=True),
    Column("agent", String(NAME_LENGTH), nullable=False),
    UniqueConstraint("trigger_pk", "key"),
    Index("ix_firings_model_planned_at", "model", "planned_at"),
    Index("ix_firings_state", "state"),
)

agent_lease = Table(
    "agent_lease",
    metadata,
    # One row: the workspace has one agent at a time.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(NAME_LENGTH), nullable=False),
    Column("host", String(NAME_LENGTH), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", BigInteger, nullable=False),
    Column("renewed_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("last_tick_at", BigInteger, nullable=True),
)

retrain_budgets = Table(
    "retrain_budgets",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("model", String(NAME_LENGTH), nullable=False, unique=True),
    Column("max_per_day", Integer, nullable=True),
    Column("max_per_week", Integer, nullable=True),
    Column("max_cpu_seconds", Float(precision=53), nullable=True),
    # The period max_cpu_seconds covers: day or week.
    Column("period", String(8), nullable=False),
    Column("min_interval_s", Integer, nullable=True),
    # Windows in a row an alert or a drop must persist before a retrain.
    Column("persistence", Integer, nullable=False),
    # JSON list of alert channel specs told about skipped firings.
    Column("channels", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(NAME_LENGTH), nullable=False),
)


# -- promotion: the gate's verdicts and each model's promotion policy -----------------

model_policies = Table(
    "model_policies",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("model_pk", Integer, ForeignKey("registered_models.pk"), nullable=False, unique=True),
    # "auto" (a passing challenger becomes champion) or "approval" (it waits for a person).
    Column("promote", String(16), nullable=False),
    # The same choice for the production alias.
    Column("production", String(16), nullable=False),
    # JSON list of alert channel specs told about approvals and failures.
    Column("channels", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(NAME_LENGTH), nullable=False),
)

gate_runs = Table(
    "gate_runs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    # The challenger: its check results are the check run below.
    Column("model_version_pk", Integer, ForeignKey("model_versions.pk"), nullable=False),
    Column("champion_version_pk", Integer, ForeignKey("model_versions.pk"), nullable=True),
    Column("check_run_pk", Integer, ForeignKey("check_runs.pk"), nullable=False),
    Column("passed", Boolean, nullable=False),
    # NULL until the policy acts: "promoted", "pending" (awaits approval) or "rejected".
    Column("decision", String(16), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    Column("decided_by", String(NAME_LENGTH), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Index("ix_gate_runs_model_version", "model_version_pk"),
)
