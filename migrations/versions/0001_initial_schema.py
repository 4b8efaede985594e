"""Initial schema: submitters, API keys, claims, claim events, jobs, intake rejections.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 13:46:24.364801
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submitters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submitters")),
        sa.UniqueConstraint("name", name=op.f("uq_submitters_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("submitter_id", sa.String(length=36), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["submitters.id"], name=op.f("fk_api_keys_submitter_id_submitters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "claims",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("submitter_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("claim_type", sa.String(length=16), nullable=False),
        sa.Column("payer_id", sa.String(length=80), nullable=False),
        sa.Column("patient_control_number", sa.String(length=38), nullable=False),
        sa.Column("frequency_code", sa.String(length=1), nullable=False),
        sa.Column("total_charge", sa.BigInteger(), nullable=False),
        sa.Column("service_date_start", sa.Date(), nullable=False),
        sa.Column("service_date_end", sa.Date(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["submitters.id"], name=op.f("fk_claims_submitter_id_submitters")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_claims")),
        sa.UniqueConstraint("id", name=op.f("uq_claims_id")),
        sa.UniqueConstraint(
            "submitter_id", "idempotency_key", name=op.f("uq_claims_submitter_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_claims_submitter_id_patient_control_number"),
            ["submitter_id", "patient_control_number"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_claims_submitter_id_payer_id"),
            ["submitter_id", "payer_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_claims_submitter_id_status"), ["submitter_id", "status"], unique=False
        )

    op.create_table(
        "intake_rejections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("submitter_id", sa.String(length=36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=True),
        sa.Column("body_size", sa.BigInteger(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submitter_id"],
            ["submitters.id"],
            name=op.f("fk_intake_rejections_submitter_id_submitters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_rejections")),
    )
    with op.batch_alter_table("intake_rejections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_rejections_submitter_id"), ["submitter_id"], unique=False
        )

    op.create_table(
        "claim_events",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_events_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_claim_events")),
    )
    with op.batch_alter_table("claim_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_events_claim_id"), ["claim_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=80), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_jobs_claim_id_claims")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_jobs_state_run_after"), ["state", "run_after"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_state_run_after"))

    op.drop_table("jobs")
    with op.batch_alter_table("claim_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_events_claim_id"))

    op.drop_table("claim_events")
    with op.batch_alter_table("intake_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_rejections_submitter_id"))

    op.drop_table("intake_rejections")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_submitter_id_status"))
        batch_op.drop_index(batch_op.f("ix_claims_submitter_id_payer_id"))
        batch_op.drop_index(batch_op.f("ix_claims_submitter_id_patient_control_number"))

    op.drop_table("claims")
    op.drop_table("api_keys")
    op.drop_table("submitters")
