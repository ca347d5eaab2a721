"""pipelines: pipeline runs, their steps, and the step cache

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=250), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("executor", sa.String(length=32), nullable=False),
        sa.Column("cache", sa.Boolean(), nullable=False),
        sa.Column("resumed_from_pk", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=250), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.pk"], name=op.f("fk_pipeline_runs_run_pk_runs")),
        sa.ForeignKeyConstraint(
            ["resumed_from_pk"],
            ["pipeline_runs.pk"],
            name=op.f("fk_pipeline_runs_resumed_from_pk_pipeline_runs"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_pipeline_runs")),
        sa.UniqueConstraint("run_pk", name=op.f("uq_pipeline_runs_run_pk")),
    )
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.create_index("ix_pipeline_runs_pipeline", ["pipeline", "pk"], unique=False)
    op.create_table(
        "pipeline_steps",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pipeline_run_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("function", sa.Text(), nullable=False),
        sa.Column("depends_on", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=True),
        sa.Column("cache_key", sa.String(length=80), nullable=True),
        sa.Column("code_digest", sa.String(length=80), nullable=True),
        sa.Column("cached_from_pk", sa.Integer(), nullable=True),
        sa.Column("outputs", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("cpu_seconds", sa.Float(precision=53), nullable=True),
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("worker", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_run_pk"],
            ["pipeline_runs.pk"],
            name=op.f("fk_pipeline_steps_pipeline_run_pk_pipeline_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["run_pk"], ["runs.pk"], name=op.f("fk_pipeline_steps_run_pk_runs")
        ),
        sa.ForeignKeyConstraint(
            ["cached_from_pk"],
            ["pipeline_steps.pk"],
            name=op.f("fk_pipeline_steps_cached_from_pk_pipeline_steps"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_pipeline_steps")),
        sa.UniqueConstraint(
            "pipeline_run_pk", "name", name=op.f("uq_pipeline_steps_pipeline_run_pk_name")
        ),
    )
    with op.batch_alter_table("pipeline_steps", schema=None) as batch_op:
        batch_op.create_index("ix_pipeline_steps_cache_key", ["cache_key"], unique=False)
    op.create_table(
        "pipeline_cache",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("function", sa.Text(), nullable=False),
        sa.Column("code_digest", sa.String(length=80), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=False),
        sa.Column("step_pk", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["step_pk"],
            ["pipeline_steps.pk"],
            name=op.f("fk_pipeline_cache_step_pk_pipeline_steps"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pipeline_cache")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_cache")
    with op.batch_alter_table("pipeline_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_pipeline_steps_cache_key")
    op.drop_table("pipeline_steps")
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_pipeline_runs_pipeline")
    op.drop_table("pipeline_runs")
