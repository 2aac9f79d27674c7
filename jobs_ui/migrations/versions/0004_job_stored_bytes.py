"""job stored bytes, owner/status index

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stored_bytes", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_job_owner_status", ["owner", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_owner_status")
        batch_op.drop_column("stored_bytes")
