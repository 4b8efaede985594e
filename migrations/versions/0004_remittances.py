"""Remittances (835 claim payments applied to claims), the payer's claim number on claims, and
operator submitters (who also see files that belong to no submitter).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submitters") as batch_op:
        batch_op.add_column(sa.Column("operator", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("claims") as batch_op:
        batch_op.add_column(sa.Column("payer_claim_number", sa.String(length=50), nullable=True))
    op.create_table(
        "remittances",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("interchange_id", sa.String(length=36), nullable=False),
        sa.Column("status_code", sa.String(length=2), nullable=False),
        sa.Column("total_charge", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("patient_responsibility", sa.BigInteger(), nullable=False),
        sa.Column("payer_claim_number", sa.String(length=50), nullable=True),
        sa.Column("payment_date", sa.Date(), nullable=True),
        sa.Column("trace_number", sa.String(length=50), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_remittances_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["interchange_id"],
            ["interchanges.id"],
            name=op.f("fk_remittances_interchange_id_interchanges"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_remittances")),
    )
    with op.batch_alter_table("remittances") as batch_op:
        batch_op.create_index("ix_remittances_claim_id", ["claim_id"])


def downgrade() -> None:
    with op.batch_alter_table("remittances") as batch_op:
        batch_op.drop_index("ix_remittances_claim_id")
    op.drop_table("remittances")
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_column("payer_claim_number")
    with op.batch_alter_table("submitters") as batch_op:
        batch_op.drop_column("operator")
