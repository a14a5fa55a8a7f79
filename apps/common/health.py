"""Health (alive), readiness (database writable) and Prometheus metrics; no authentication.

/readyz must answer within about a second even when the database is unreachable, but libpq
will not time a connection out faster than 2 s, so the check runs on a worker thread and the
request stops waiting after the budget; the worker finishes (or is cut off) on its own.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apps.common.admission import Admission
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
        self.in_flight = Gauge(
            "drctl_app_requests_in_flight",
            "Requests at work (health, readiness and metrics not counted)",
            ["app"],
            registry=self.registry,
        ).labels(app_name)
        self.shed = Counter(
            "drctl_app_requests_shed_total",
            "Requests answered 503 at once because the app was at its limit",
            ["app"],
            registry=self.registry,
        ).labels(app_name)
        self.app_name = app_name


class ServedBy:
    """Counts and times every request and names the site that answered (X-Served-By), so the
    front door and the drill engine see which site served. A plain ASGI middleware: the
    decorator form (BaseHTTPMiddleware) costs a task group and two streams per request, CPU
    the apps cannot spare while a drill's probes run beside the whole lab."""

    def __init__(self, app: ASGIApp, metrics: Metrics, site: str) -> None:
        self.app = app
        self.metrics = metrics
        self.header = (b"x-served-by", site.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the user gets if the app raises before answering

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), self.header]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            # the router wrote the matched route into the shared scope
            route = getattr(scope.get("route"), "path", "unmatched")
            m = self.metrics
            m.requests.labels(m.app_name, scope["method"], route, str(status)).inc()
            m.latency.labels(m.app_name, route).observe(time.perf_counter() - started)


def install(app: FastAPI, settings: Settings) -> None:
    metrics = Metrics(settings.app)
    checker = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")
    app.state.metrics = metrics

    app.add_middleware(
        Admission, limit=settings.max_in_flight, in_flight=metrics.in_flight, shed=metrics.shed
    )
    # added last, so outermost: refusals are counted and name their site too
    app.add_middleware(ServedBy, metrics=metrics, site=settings.site)

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
