"""governance: hash-chained audit log (folding in alias and status history), check results,
model reports

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from steward.store.audit_chain import GENESIS_HASH, event_hash

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _create_tables() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=250), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=1024), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=True),
        sa.Column("to_state", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_subject", ["subject"], unique=False)
        batch_op.create_index("ix_audit_events_action", ["action"], unique=False)
        batch_op.create_index("ix_audit_events_at", ["at"], unique=False)
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "check_runs",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("suite", sa.String(length=250), nullable=False),
        sa.Column("dataset_version_pk", sa.Integer(), nullable=True),
        sa.Column("model_version_pk", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("check_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_version_pk"],
            ["dataset_versions.pk"],
            name=op.f("fk_check_runs_dataset_version_pk_dataset_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["model_version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_check_runs_model_version_pk_model_versions"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_check_runs")),
        sa.UniqueConstraint("id", name=op.f("uq_check_runs_id")),
    )
    with op.batch_alter_table("check_runs", schema=None) as batch_op:
        batch_op.create_index("ix_check_runs_dataset_version", ["dataset_version_pk"], unique=False)
        batch_op.create_index("ix_check_runs_model_version", ["model_version_pk"], unique=False)
    op.create_table(
        "check_results",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("threshold", sa.Float(precision=53), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_pk"], ["check_runs.pk"], name=op.f("fk_check_results_run_pk_check_runs")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_check_results")),
    )
    with op.batch_alter_table("check_results", schema=None) as batch_op:
        batch_op.create_index("ix_check_results_run", ["run_pk"], unique=False)
    op.create_table(
        "model_reports",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model_version_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_model_reports_model_version_pk_model_versions"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_model_reports")),
        sa.UniqueConstraint("id", name=op.f("uq_model_reports_id")),
    )
    with op.batch_alter_table("model_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_model_reports_version_kind", ["model_version_pk", "kind"], unique=False
        )


def _fold_history() -> None:
    """Copy the alias moves and status changes, oldest first, into the chain."""
    connection = op.get_bind()
    aliases = connection.execute(
        sa.text(
            "SELECT e.at, e.pk, e.actor, m.name, e.alias, e.from_version, e.to_version, e.reason "
            "FROM alias_events e JOIN registered_models m ON m.pk = e.model_pk"
        )
    ).all()
    statuses = connection.execute(
        sa.text(
            "SELECT e.at, e.pk, e.actor, m.name, v.version, e.from_status, e.to_status, e.reason "
            "FROM version_status_events e JOIN model_versions v ON v.pk = e.version_pk "
            "JOIN registered_models m ON m.pk = v.model_pk"
        )
    ).all()
    events = []
    for at, pk, actor, name, alias, old, new, reason in aliases:
        action = "model.alias.set" if new is not None else "model.alias.delete"
        events.append((at, 1, pk, actor, action, f"model:{name}@{alias}", old, new, reason))
    for at, pk, actor, name, version, old, new, reason in statuses:
        action = "model.status" if old is not None else "model.version.register"
        events.append((at, 0, pk, actor, action, f"model:{name}/{version}", old, new, reason))
    previous = GENESIS_HASH
    seq = 0
    for at, _, _, actor, action, subject, old, new, reason in sorted(events):
        seq += 1
        old_text = None if old is None else str(old)
        new_text = None if new is None else str(new)
        digest = event_hash(
            seq, at, actor, action, subject, old_text, new_text, reason, None, previous
        )
        connection.execute(
            sa.text(
                "INSERT INTO audit_events (seq, at, actor, action, subject, from_state, to_state, "
                "reason, details, prev_hash, hash) VALUES (:seq, :at, :actor, :action, :subject, "
                ":old, :new, :reason, NULL, :prev, :hash)"
            ),
            {
                "seq": seq,
                "at": at,
                "actor": actor,
                "action": action,
                "subject": subject,
                "old": old_text,
                "new": new_text,
                "reason": reason,
                "prev": previous,
                "hash": digest,
            },
        )
        previous = digest
    if seq:
        connection.execute(
            sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"),
            {"seq": seq, "hash": previous},
        )


def upgrade() -> None:
    _create_tables()
    _fold_history()
    with op.batch_alter_table("alias_events", schema=None) as batch_op:
        batch_op.drop_index("ix_alias_events_model_alias")
    op.drop_table("alias_events")
    with op.batch_alter_table("version_status_events", schema=None) as batch_op:
        batch_op.drop_index("ix_version_status_events_version")
    op.drop_table("version_status_events")


def downgrade() -> None:
    raise NotImplementedError(
        "the audit log cannot be unfolded back into alias and status tables; restore a backup."
    )
