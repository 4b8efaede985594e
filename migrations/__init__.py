"""Alembic migrations for the Clearway database (one change per revision, each with a downgrade)."""
