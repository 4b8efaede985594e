"""Large files stored sealed in chunks: files.chunks (0: the whole file sealed in files.body);
files.claims_scrubbed counts an 837's claims through the scrubber (for its one 277CA).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch_op:
        batch_op.add_column(sa.Column("chunks", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("claims_scrubbed", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "file_chunks",
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_file_chunks_file_id_files")
        ),
        sa.PrimaryKeyConstraint("file_id", "seq", name=op.f("pk_file_chunks")),
    )


def downgrade() -> None:
    op.drop_table("file_chunks")
    with op.batch_alter_table("files") as batch_op:
        batch_op.drop_column("claims_scrubbed")
        batch_op.drop_column("chunks")
