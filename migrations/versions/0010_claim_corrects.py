"""Corrections linked to the claim they correct: claims.corrects_claim_id.

A replacement (frequency 7) or void (8) names the payer's number of one of the submitter's own
claims; the scrub finds that claim and links the correction to it, so the void can end when the
payer takes the original's payment back, and either claim leads to the other.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("corrects_claim_id", sa.String(36), nullable=True))
        batch.create_foreign_key(
            "fk_claims_corrects_claim_id_claims", "claims", ["corrects_claim_id"], ["id"]
        )
        batch.create_index("ix_claims_corrects_claim_id", ["corrects_claim_id"])
    # How a correction's payer claim number (REF*F8) finds the submitter's original.
    op.create_index(
        "ix_claims_submitter_id_payer_claim_number",
        "claims",
        ["submitter_id", "payer_claim_number"],
    )


def downgrade() -> None:
    op.drop_index("ix_claims_submitter_id_payer_claim_number", table_name="claims")
    with op.batch_alter_table("claims") as batch:
        batch.drop_index("ix_claims_corrects_claim_id")
        batch.drop_constraint("fk_claims_corrects_claim_id_claims", type_="foreignkey")
        batch.drop_column("corrects_claim_id")
