"""Public keys submitters log in to the SFTP drop with.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sftp_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("submitter_id", sa.String(length=36), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["submitters.id"], name=op.f("fk_sftp_keys_submitter_id_submitters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sftp_keys")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_sftp_keys_fingerprint")),
    )


def downgrade() -> None:
    op.drop_table("sftp_keys")
