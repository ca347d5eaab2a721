"""gate: the retraining gate's verdicts and each model's promotion policy

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_policies",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("promote", sa.String(length=16), nullable=False),
        sa.Column("production", sa.String(length=16), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_pk"],
            ["registered_models.pk"],
            name=op.f("fk_model_policies_model_pk_registered_models"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_model_policies")),
        sa.UniqueConstraint("model_pk", name=op.f("uq_model_policies_model_pk")),
    )
    op.create_table(
        "gate_runs",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model_version_pk", sa.Integer(), nullable=False),
        sa.Column("champion_version_pk", sa.Integer(), nullable=True),
        sa.Column("check_run_pk", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(length=250), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_gate_runs_model_version_pk_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["champion_version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_gate_runs_champion_version_pk_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["check_run_pk"], ["check_runs.pk"], name=op.f("fk_gate_runs_check_run_pk_check_runs")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_gate_runs")),
        sa.UniqueConstraint("id", name=op.f("uq_gate_runs_id")),
    )
    with op.batch_alter_table("gate_runs", schema=None) as batch_op:
        batch_op.create_index("ix_gate_runs_model_version", ["model_version_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gate_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_gate_runs_model_version")
    op.drop_table("gate_runs")
    op.drop_table("model_policies")
