"""Claims found by payer and CLM01: the key a payer's 277CA and 835 answer with.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Without it, applying an answer scanned every claim sent to that payer.
    op.create_index(
        op.f("ix_claims_payer_id_patient_control_number"),
        "claims",
        ["payer_id", "patient_control_number"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_claims_payer_id_patient_control_number"), table_name="claims")
