"""Interchanges (outbound 837s and inbound responses), their claims, control number sequences.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "control_numbers",
        sa.Column("sender_id", sa.String(length=15), nullable=False),
        sa.Column("receiver_id", sa.String(length=15), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", "receiver_id", name=op.f("pk_control_numbers")),
    )
    op.create_table(
        "interchanges",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("payer_id", sa.String(length=80), nullable=False),
        sa.Column("submitter_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("control_number", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["submitter_id"],
            ["submitters.id"],
            name=op.f("fk_interchanges_submitter_id_submitters"),
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_interchanges")),
        sa.UniqueConstraint("id", name=op.f("uq_interchanges_id")),
    )
    with op.batch_alter_table("interchanges") as batch_op:
        batch_op.create_index("ix_interchanges_direction_state", ["direction", "state"])
        batch_op.create_index(
            "ix_interchanges_payer_id_control_number", ["payer_id", "control_number"]
        )
        batch_op.create_index("ix_interchanges_direction_sha256", ["direction", "sha256"])
    op.create_table(
        "interchange_claims",
        sa.Column("interchange_id", sa.String(length=36), nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("transaction_control_number", sa.String(length=9), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_interchange_claims_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["interchange_id"],
            ["interchanges.id"],
            name=op.f("fk_interchange_claims_interchange_id_interchanges"),
        ),
        sa.PrimaryKeyConstraint("interchange_id", "claim_id", name=op.f("pk_interchange_claims")),
    )
    with op.batch_alter_table("interchange_claims") as batch_op:
        batch_op.create_index("ix_interchange_claims_claim_id", ["claim_id"])


def downgrade() -> None:
    with op.batch_alter_table("interchange_claims") as batch_op:
        batch_op.drop_index("ix_interchange_claims_claim_id")
    op.drop_table("interchange_claims")
    with op.batch_alter_table("interchanges") as batch_op:
        batch_op.drop_index("ix_interchanges_direction_sha256")
        batch_op.drop_index("ix_interchanges_payer_id_control_number")
        batch_op.drop_index("ix_interchanges_direction_state")
    op.drop_table("interchanges")
    op.drop_table("control_numbers")
