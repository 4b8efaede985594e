"""Claims keep a keyed hash of their duplicate fingerprint, for the likely-duplicate edit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.add_column(sa.Column("duplicate_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_claims_submitter_id_duplicate_key", ["submitter_id", "duplicate_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_index("ix_claims_submitter_id_duplicate_key")
        batch_op.drop_column("duplicate_key")
