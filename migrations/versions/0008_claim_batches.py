"""Claim batches: each POST /v1/claims/batch as received, with the answer for each claim.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim_batches",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("submitter_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claims_read", sa.Integer(), nullable=False),
        sa.Column("claims_accepted", sa.Integer(), nullable=False),
        sa.Column("claims_rejected", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("body_size", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submitter_id"],
            ["submitters.id"],
            name=op.f("fk_claim_batches_submitter_id_submitters"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_claim_batches")),
        sa.UniqueConstraint("id", name=op.f("uq_claim_batches_id")),
        sa.UniqueConstraint(
            "submitter_id",
            "idempotency_key",
            name=op.f("uq_claim_batches_submitter_id_idempotency_key"),
        ),
    )


def downgrade() -> None:
    op.drop_table("claim_batches")
