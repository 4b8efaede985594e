"""Interchange sender ids per submitter: the ISA06 (and GS02) ids its X12 files may come from.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One id belongs to one submitter: a file naming it is that submitter's, or refused.
    op.create_table(
        "sender_ids",
        sa.Column("sender_id", sa.String(length=15), nullable=False),
        sa.Column("submitter_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["submitters.id"], name=op.f("fk_sender_ids_submitter_id_submitters")
        ),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_sender_ids")),
    )
    op.create_index(op.f("ix_sender_ids_submitter_id"), "sender_ids", ["submitter_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sender_ids_submitter_id"), table_name="sender_ids")
    op.drop_table("sender_ids")
