"""Admission control: at most `limit` requests at work in an app; the next ones are answered
503 at once (with Retry-After) instead of waiting for the database pool on a worker thread.

The bound lives here, not at the front door: when a user gives up, HAProxy closes the
connection and forwards the next request while the abandoned one still runs here until its
database deadline (and a per-server maxconn there stranded queued requests when the primary
site went down: roles/haproxy's front-door template). During a switchover under load those
orphans piled up until the event loop itself fell behind and even /healthz timed out; an app
that refuses work it cannot start stays responsive and catches up as soon as the database is
back.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Liveness, readiness and metrics are always answered: they are how operators see the overload.
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


class Admission:
    def __init__(self, app: ASGIApp, limit: int, in_flight: Gauge, shed: Counter) -> None:
        self.app = app
        self.limit = limit
        self.busy = 0  # touched on the event loop only: no lock
        self.in_flight = in_flight
        self.shed = shed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.busy >= self.limit:
            self.shed.inc()
            refusal = JSONResponse(
                {"detail": "server busy, retry shortly"},
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await refusal(scope, receive, send)
            return
        self.busy += 1
        self.in_flight.set(self.busy)
        try:
            # returns only when the endpoint's worker thread has finished, even if the client
            # left long before: exactly the work this bound is about
            await self.app(scope, receive, send)
        finally:
            self.busy -= 1
            self.in_flight.set(self.busy)
