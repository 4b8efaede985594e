"""The database schema as SQLAlchemy Core tables, shared by the store and the migrations' checks.

Money is stored as integer cents and timestamps as UTC, identically on SQLite and PostgreSQL.
PHI lives only in the sealed columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite keeps no zone, so one is attached on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Decimal dollars stored as integer cents, exact on every database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        cents = value * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"{value} has more than two decimal places")
        return int(cents)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


submitters = Table(
    "submitters",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("active", Boolean, nullable=False),
    # Operators also see what belongs to no submitter: unmatched and undelivered files.
    Column("operator", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("submitter_id", String(36), ForeignKey("submitters.id"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(12), nullable=False),  # shown to operators to tell keys apart
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

claims = Table(
    "claims",
    metadata,
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(36), nullable=False, unique=True),
    Column("submitter_id", String(36), ForeignKey("submitters.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("version", Integer, nullable=False),  # compare-and-set on every status change
    Column("claim_type", String(16), nullable=False),
    Column("payer_id", String(80), nullable=False),
    Column("patient_control_number", String(38), nullable=False),  # CLM01
    Column("frequency_code", String(1), nullable=False),  # CLM05-3
    Column("total_charge", Money, nullable=False),  # CLM02
    Column("service_date_start", Date, nullable=False),
    Column("service_date_end", Date, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # sealed claim JSON (PHI)
    # Keyed hash of the claim's duplicate fingerprint (patient, payer, dates, procedures).
    Column("duplicate_key", String(64)),
    Column("payer_claim_number", String(50)),  # 277CA REF*1K or 835 CLP07
    # A replacement or void: the submitter's claim whose payer claim number it names (REF*F8).
    Column("corrects_claim_id", String(36), ForeignKey("claims.id"), index=True),
    Column("idempotency_key", String(255)),
    Column("request_sha256", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("submitter_id", "idempotency_key"),
    Index(None, "submitter_id", "status"),
    Index(None, "submitter_id", "patient_control_number"),
    Index(None, "submitter_id", "payer_id"),
    Index(None, "submitter_id", "duplicate_key"),
    Index(None, "payer_id", "patient_control_number"),  # how 277CA and 835 answers find claims
    Index(None, "submitter_id", "payer_claim_number"),  # how a correction finds its original
)

claim_events = Table(
    "claim_events",
    metadata,
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("claim_id", String(36), ForeignKey("claims.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("from_status", String(24)),
    Column("to_status", String(24)),
    Column("detail", JSON, nullable=False),  # no PHI: codes, counts, ids
)

jobs = Table(
    "jobs",
    metadata,
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("kind", String(40), nullable=False),
    Column("claim_id", String(36), ForeignKey("claims.id")),
    Column("payload", JSON, nullable=False),
    Column("state", String(12), nullable=False),  # ready, running, done, dead
    Column("attempts", Integer, nullable=False),
    Column("run_after", UTCDateTime, nullable=False),
    Column("locked_by", String(80)),
    Column("locked_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "state", "run_after"),
)

intake_rejections = Table(
    "intake_rejections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("submitter_id", String(36), ForeignKey("submitters.id"), nullable=False, index=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("channel", String(16), nullable=False),  # api, x12, sftp
    Column("reason", String(40), nullable=False),
    Column("errors", JSON, nullable=False),  # pointers and messages, never the values
    Column("content_type", String(120)),
    Column("body_size", BigInteger, nullable=False),
    Column("body_sha256", String(64)),
    Column("body", LargeBinary),  # sealed; absent when the body was too large to read
    # Bytes of the body kept: its first 64 KB once the submitter's refused bodies pass their
    # quota; NULL: whole.
    Column("kept_bytes", BigInteger),
)

claim_batches = Table(
    "claim_batches",
    metadata,
    # Each POST /v1/claims/batch as received, with the answer given for each of its claims.
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(36), nullable=False, unique=True),
    Column("submitter_id", String(36), ForeignKey("submitters.id"), nullable=False),
    Column("idempotency_key", String(255)),
    Column("request_sha256", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("claims_read", Integer, nullable=False),
    Column("claims_accepted", Integer, nullable=False),
    Column("claims_rejected", Integer, nullable=False),
    Column("results", JSON, nullable=False),  # per claim: its id, or pointers and messages
    Column("body_size", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),  # sealed request body (PHI)
    UniqueConstraint("submitter_id", "idempotency_key"),
)


control_numbers = Table(
    "control_numbers",
    metadata,
    # ISA13/GS06 are unique per sender/receiver pair, so each pair has its own sequence.
    Column("sender_id", String(15), primary_key=True),
    Column("receiver_id", String(15), primary_key=True),
    Column("last_value", BigInteger, nullable=False),
)

interchanges = Table(
    "interchanges",
    metadata,
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(36), nullable=False, unique=True),
    Column("direction", String(8), nullable=False),  # outbound (to a payer) or inbound
    Column("payer_id", String(80), nullable=False),
    Column("submitter_id", String(36), ForeignKey("submitters.id")),
    Column("kind", String(12), nullable=False),  # 837P, 837I, 999, TA1, 277CA, 835, unknown
    Column("control_number", BigInteger),  # ISA13 (outbound: also GS06)
    Column("state", String(12), nullable=False),
    Column("body", LargeBinary, nullable=False),  # sealed X12 text (PHI)
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("claim_count", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("detail", JSON, nullable=False),  # counts, codes, unmatched control numbers; no PHI
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index(None, "direction", "state"),
    Index(None, "payer_id", "control_number"),
    Index(None, "direction", "sha256"),
)

interchange_claims = Table(
    "interchange_claims",
    metadata,
    Column("interchange_id", String(36), ForeignKey("interchanges.id"), primary_key=True),
    Column("claim_id", String(36), ForeignKey("claims.id"), primary_key=True, index=True),
    Column("transaction_control_number", String(9), nullable=False),  # ST02 of its set
)


remittances = Table(
    "remittances",
    metadata,
    # One row per 835 claim payment (CLP) applied to a claim; a reversal is a row of its own.
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("claim_id", String(36), ForeignKey("claims.id"), nullable=False, index=True),
    Column("interchange_id", String(36), ForeignKey("interchanges.id"), nullable=False),
    Column("status_code", String(2), nullable=False),  # CLP02
    Column("total_charge", Money, nullable=False),  # CLP03
    Column("paid", Money, nullable=False),  # CLP04
    Column("patient_responsibility", Money, nullable=False),  # CLP05
    Column("payer_claim_number", String(50)),  # CLP07
    Column("payment_date", Date),  # BPR16
    Column("trace_number", String(50)),  # TRN02: check or EFT number
    Column("detail", JSON, nullable=False),  # adjustments and lines with codes; no names
    Column("received_at", UTCDateTime, nullable=False),
)


files = Table(
    "files",
    metadata,
    # X12 files exchanged with submitters: what they sent us (inbound: 837s by API or SFTP)
    # and what we send them (outbound: 999, TA1, 277CA, 835 for their outbox).
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(36), nullable=False, unique=True),
    Column("submitter_id", String(36), ForeignKey("submitters.id"), nullable=False),
    Column("direction", String(8), nullable=False),  # inbound (from the submitter) / outbound
    Column("channel", String(8), nullable=False),  # api, sftp, folder
    Column("kind", String(12), nullable=False),  # 837, 999, TA1, 277CA, 835, unknown
    Column("name", String(255), nullable=False),
    Column("state", String(12), nullable=False),  # received, processing, processed, rejected
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),  # sealed (PHI); empty when in chunks
    # 0: the whole file is sealed in body; N: it is in file_chunks 0..N-1, each sealed alone.
    Column("chunks", Integer, nullable=False, server_default="0"),
    Column("claims_read", Integer, nullable=False),
    Column("claims_accepted", Integer, nullable=False),
    Column("claims_rejected", Integer, nullable=False),
    # Accepted claims the scrubber has judged: when all have, the file's one 277CA is made.
    Column("claims_scrubbed", Integer, nullable=False, server_default="0"),
    Column("detail", JSON, nullable=False),  # the acknowledgment summary; no PHI
    # A refused file past the submitter's quota keeps its first 64 KB only; NULL: whole.
    Column("kept_bytes", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "submitter_id", "direction", "sha256"),
)

file_chunks = Table(
    "file_chunks",
    metadata,
    # A large file's content, sealed a chunk at a time, bound to its file, place and whether
    # it is the last, so chunks cannot be swapped, reordered or cut off unnoticed.
    Column("file_id", String(36), ForeignKey("files.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("body", LargeBinary, nullable=False),  # sealed (PHI)
)

sftp_keys = Table(
    "sftp_keys",
    metadata,
    # Public keys a submitter logs in to the SFTP drop with; one key belongs to one submitter.
    Column("id", String(36), primary_key=True),
    Column("submitter_id", String(36), ForeignKey("submitters.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False, unique=True),  # SHA256:base64
    Column("public_key", Text, nullable=False),  # OpenSSH one-line form, comment dropped
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

sender_ids = Table(
    "sender_ids",
    metadata,
    # The interchange sender ids (ISA06, and GS02 where it differs) a submitter's X12 files come
    # from, as its trading partner agreement names them; one id belongs to one submitter.
    Column("sender_id", String(15), primary_key=True),
    Column("submitter_id", String(36), ForeignKey("submitters.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)
