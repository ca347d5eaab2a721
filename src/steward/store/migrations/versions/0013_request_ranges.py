"""request ranges: batch scoring indexes its request ids a chunk at a time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_request_ranges",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("segment_pk", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_pk"],
            ["prediction_segments.pk"],
            name=op.f("fk_prediction_request_ranges_segment_pk_prediction_segments"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_prediction_request_ranges")),
    )
    with op.batch_alter_table("prediction_request_ranges", schema=None) as batch_op:
        batch_op.create_index("ix_prediction_request_ranges_prefix", ["prefix"], unique=False)
        batch_op.create_index(
            "ix_prediction_request_ranges_model_at", ["model", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("prediction_request_ranges", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_request_ranges_model_at")
        batch_op.drop_index("ix_prediction_request_ranges_prefix")
    op.drop_table("prediction_request_ranges")
