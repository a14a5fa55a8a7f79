"""Builds a FastAPI application with everything both apps share."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

import psycopg
from fastapi import APIRouter, FastAPI

from apps.common import errors, health, probe, users
from apps.common.auth import ensure_admin
from apps.common.db import Database, DatabaseUnavailable
from apps.common.settings import Settings

log = logging.getLogger("apps")


def build(
    settings: Settings, title: str, routers: list[APIRouter], roles: frozenset[str]
) -> FastAPI:
    db = Database(
        settings.dsn,
        application_name=f"drctl-{settings.app}-{settings.site}",
        statement_timeout_ms=settings.statement_timeout_ms,
        deadline_s=settings.request_deadline_s,
        max_size=settings.pool_max,
    )

    def ensure_tokens() -> None:
        # The migration step already did this; here it only repairs, so it never delays
        # startup, and the app must start even while the database is failing over.
        try:
            with db.transaction() as conn:
                ensure_admin(conn, settings.admin_token, settings.prober_token)
        except (DatabaseUnavailable, psycopg.Error) as exc:
            log.warning("admin and prober tokens not ensured at startup: %s", exc)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.admin_token or settings.prober_token:
            threading.Thread(target=ensure_tokens, name="ensure-tokens", daemon=True).start()
        yield
        db.close()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.db = db
    app.state.settings = settings
    errors.install(app)
    health.install(app, settings)
    app.include_router(users.router(roles))
    app.include_router(probe.router())
    for router in routers:
        app.include_router(router)
    return app
