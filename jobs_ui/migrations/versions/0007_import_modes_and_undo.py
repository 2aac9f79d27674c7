"""import lineage (commit of a dry run, undo) and the rows an import changed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commit_of", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("undo_of", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("undone_by", sa.Uuid(), nullable=True))
    op.create_table(
        "import_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_import_change_job_id", "import_change", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_import_change_job_id", table_name="import_change")
    op.drop_table("import_change")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("undone_by")
        batch_op.drop_column("undo_of")
        batch_op.drop_column("commit_of")
