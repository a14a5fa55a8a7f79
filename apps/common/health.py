"""Health (alive), readiness (database writable) and Prometheus metrics; no authentication.

/readyz must answer within about a second even when the database is unreachable, but libpq
will not time a connection out faster than 2 s, so the check runs on a worker thread and the
request stops waiting after the budget; the worker finishes (or is cut off) on its own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from apps.common.db import Database, DatabaseUnavailable
from apps.common.settings import Settings

READY_BUDGET_S = 1.0


class Metrics:
    def __init__(self, app_name: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "drctl_app_http_requests_total",
            "HTTP requests answered",
            ["app", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "drctl_app_http_request_duration_seconds",
            "HTTP request latency",
            ["app", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.app_name = app_name


def install(app: FastAPI, settings: Settings) -> None:
    metrics = Metrics(settings.app)
    checker = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")
    app.state.metrics = metrics

    @app.middleware("http")
    async def served_by(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(
            settings.app, request.method, route, str(response.status_code)
        ).inc()
        metrics.latency.labels(settings.app, route).observe(time.perf_counter() - started)
        # Lets the front door (and the drill engine) see which site answered.
        response.headers["X-Served-By"] = settings.site
        return response

    api = APIRouter(tags=["health"])

    # async: liveness is answered on the event loop, never queued behind requests that hold
    # the worker threads while the database is away (a switchover, a lost site)
    @api.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "alive", "app": settings.app, "site": settings.site}

    @api.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        db: Database = request.app.state.db
        future = checker.submit(_touch, db, settings.site)
        try:
            future.result(timeout=READY_BUDGET_S)
        except FutureTimeout:
            return _not_ready(settings, "database did not answer within 1 s")
        except DatabaseUnavailable as exc:
            return _not_ready(settings, str(exc))
        return JSONResponse({"status": "ready", "app": settings.app, "site": settings.site})

    @api.get("/metrics")
    def scrape() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(api)


def _touch(db: Database, site: str) -> None:
    with db.transaction(deadline_s=2.0) as conn:
        conn.execute(
            """INSERT INTO readiness (site, checked_at) VALUES (%s, now())
               ON CONFLICT (site) DO UPDATE SET checked_at = now()""",
            (site,),
        )


def _not_ready(settings: Settings, reason: str) -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "app": settings.app, "site": settings.site, "reason": reason},
        status_code=503,
    )
