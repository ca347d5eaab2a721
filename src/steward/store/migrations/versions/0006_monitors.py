"""monitors: monitor definitions and per-window results

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_monitors")),
        sa.UniqueConstraint("id", name=op.f("uq_monitors_id")),
        sa.UniqueConstraint("name", name=op.f("uq_monitors_name")),
    )
    op.create_table(
        "monitor_results",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("monitor_pk", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("label_count", sa.Integer(), nullable=False),
        sa.Column("drift_share", sa.Float(precision=53), nullable=True),
        sa.Column("dataset_drift", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("blob_digest", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_pk"], ["monitors.pk"], name=op.f("fk_monitor_results_monitor_pk_monitors")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_monitor_results")),
        sa.UniqueConstraint("id", name=op.f("uq_monitor_results_id")),
    )
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitor_results_monitor_end", ["monitor_pk", "window_end"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_results_monitor_end")

    op.drop_table("monitor_results")
    op.drop_table("monitors")
