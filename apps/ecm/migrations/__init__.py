"""Alembic migrations (loaded by path; a package so type checkers can tell them apart)."""
