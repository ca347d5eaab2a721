"""serving: prediction log segments, request index and feedback labels

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_segments",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("blob_digest", sa.String(length=80), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("min_time", sa.BigInteger(), nullable=False),
        sa.Column("max_time", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_prediction_segments")),
    )
    with op.batch_alter_table("prediction_segments", schema=None) as batch_op:
        batch_op.create_index("ix_prediction_segments_model_day", ["model", "day"], unique=False)
    op.create_table(
        "prediction_requests",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("segment_pk", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_pk"],
            ["prediction_segments.pk"],
            name=op.f("fk_prediction_requests_segment_pk_prediction_segments"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_prediction_requests")),
    )
    with op.batch_alter_table("prediction_requests", schema=None) as batch_op:
        batch_op.create_index("ix_prediction_requests_request_id", ["request_id"], unique=False)
        batch_op.create_index("ix_prediction_requests_model_at", ["model", "at"], unique=False)
    op.create_table(
        "prediction_feedback",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("received_by", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_prediction_feedback")),
    )


def downgrade() -> None:
    op.drop_table("prediction_feedback")
    with op.batch_alter_table("prediction_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_requests_model_at")
        batch_op.drop_index("ix_prediction_requests_request_id")
    op.drop_table("prediction_requests")
    with op.batch_alter_table("prediction_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_segments_model_day")
    op.drop_table("prediction_segments")
