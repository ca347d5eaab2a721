"""run heartbeats: a run whose process died is found and marked KILLED

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("alive_until", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("heartbeat_lost", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index("ix_runs_status_alive_until", ["status", "alive_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status_alive_until")
        batch_op.drop_column("heartbeat_lost")
        batch_op.drop_column("alive_until")
        batch_op.drop_column("heartbeat_at")
