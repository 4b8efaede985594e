"""How much of each refused body is kept: past a submitter's quota only its first 64 KB are.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: kept whole (every row written before this revision).
    op.add_column("intake_rejections", sa.Column("kept_bytes", sa.BigInteger(), nullable=True))
    op.add_column("files", sa.Column("kept_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("kept_bytes")
    with op.batch_alter_table("intake_rejections") as batch:
        batch.drop_column("kept_bytes")
