"""`python -m apps.crm.migrate`: bring the CRM schema to head (idempotent)."""

from __future__ import annotations

from pathlib import Path

from apps.common.migrate import main

MIGRATIONS = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    raise SystemExit(main("crm", MIGRATIONS))
