"""agent: triggers, firings, the agent lease and retraining budgets

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("pipeline", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=True),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_triggers")),
        sa.UniqueConstraint("id", name=op.f("uq_triggers_id")),
        sa.UniqueConstraint("name", name=op.f("uq_triggers_name")),
    )
    op.create_table(
        "firings",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("trigger_pk", sa.Integer(), nullable=True),
        sa.Column("trigger_name", sa.String(length=250), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=True),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("pipeline_run_id", sa.String(length=32), nullable=True),
        sa.Column("planned_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("cpu_seconds", sa.Float(precision=53), nullable=True),
        sa.Column("agent", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_pk"], ["triggers.pk"], name=op.f("fk_firings_trigger_pk_triggers")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_firings")),
        sa.UniqueConstraint("id", name=op.f("uq_firings_id")),
        sa.UniqueConstraint("trigger_pk", "key", name=op.f("uq_firings_trigger_pk_key")),
    )
    with op.batch_alter_table("firings", schema=None) as batch_op:
        batch_op.create_index("ix_firings_model_planned_at", ["model", "planned_at"], unique=False)
        batch_op.create_index("ix_firings_state", ["state"], unique=False)
    op.create_table(
        "agent_lease",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(length=250), nullable=False),
        sa.Column("host", sa.String(length=250), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.BigInteger(), nullable=False),
        sa.Column("renewed_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("last_tick_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_lease")),
    )
    op.create_table(
        "retrain_budgets",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("max_per_day", sa.Integer(), nullable=True),
        sa.Column("max_per_week", sa.Integer(), nullable=True),
        sa.Column("max_cpu_seconds", sa.Float(precision=53), nullable=True),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("min_interval_s", sa.Integer(), nullable=True),
        sa.Column("persistence", sa.Integer(), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_retrain_budgets")),
        sa.UniqueConstraint("model", name=op.f("uq_retrain_budgets_model")),
    )


def downgrade() -> None:
    op.drop_table("retrain_budgets")
    op.drop_table("agent_lease")
    with op.batch_alter_table("firings", schema=None) as batch_op:
        batch_op.drop_index("ix_firings_state")
        batch_op.drop_index("ix_firings_model_planned_at")
    op.drop_table("firings")
    op.drop_table("triggers")
