"""Runs an app's Alembic migrations against DRCTL_DB_DSN, then ensures the admin token.

Idempotent and safe to run from both sites at once: an advisory lock serialises runners and
Alembic skips revisions already applied. No alembic.ini: the config is built here.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import psycopg
import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from psycopg.rows import dict_row
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from apps.common.auth import ensure_admin
from apps.common.db import connect_kwargs
from apps.common.settings import Settings

# One lock id per app, so the two apps never wait for each other.
_LOCK_IDS = {"ecm": 7_201_001, "crm": 7_201_002}


def upgrade(
    app: str, migrations: Path, dsn: str, admin_token: str = "", prober_token: str = ""
) -> None:
    kwargs = connect_kwargs(statement_timeout_ms=0, application_name=f"drctl-{app}-migrate")
    engine = create_engine(
        "postgresql+psycopg://",
        creator=lambda: psycopg.connect(dsn, **kwargs),
        poolclass=NullPool,
    )
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["version_table"] = f"{app}_alembic_version"
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_IDS[app]})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()
    with psycopg.connect(dsn, row_factory=dict_row, **kwargs) as pg:
        ensure_admin(pg, admin_token, prober_token)


def main(app: str, migrations: Path) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings.from_env(app)
    if not settings.dsn:
        print("DRCTL_DB_DSN is not set", file=sys.stderr)
        return 2
    try:
        upgrade(app, migrations, settings.dsn, settings.admin_token, settings.prober_token)
    except (psycopg.OperationalError, sqlalchemy.exc.OperationalError) as exc:
        print(f"{app} migration failed: database unavailable: {exc}", file=sys.stderr)
        return 1
    print(f"{app} schema is at head")
    return 0
