"""Tests against real SQLite and PostgreSQL databases."""
