"""Builds a FastAPI application with everything both apps share."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Request

from apps.common import errors, health, probe, users
from apps.common.auth import ensure_admin, request_token, session
from apps.common.db import Database, DatabaseUnavailable
from apps.common.settings import Settings

log = logging.getLogger("apps")


def build(
    settings: Settings,
    title: str,
    routers: list[APIRouter],
    roles: frozenset[str],
    pages: list[APIRouter] | None = None,
) -> FastAPI:
    """An app with health, users and probe routes plus `routers`, all behind a bearer token
    (checked before anything else, so a caller without one learns nothing, not even which
    input is invalid); `pages` handle their own sign-in."""
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

    # The interactive docs (/docs, /redoc) cannot send a bearer token and would fetch their
    # scripts from a CDN; the schema itself is served below, to authenticated callers only.
    app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db = db
    app.state.settings = settings
    errors.install(app)
    health.install(app, settings)
    bearer = [Depends(request_token)]
    for router in [users.router(roles), probe.router(), *routers]:
        app.include_router(router, dependencies=bearer)
    for page in pages or []:
        app.include_router(page)

    @app.get("/openapi.json", include_in_schema=False, dependencies=bearer)
    def openapi(request: Request) -> dict[str, Any]:
        with session(request):
            pass  # any valid token: the schema describes the API, not anyone's data
        return app.openapi()

    return app
