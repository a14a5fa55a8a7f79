"""Admission control (apps/common/admission.py) on a bare ASGI app: no database needed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from apps.common.admission import Admission

LIMIT = 3


class Held:
    """An ASGI app whose requests stay at work until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.started += 1
        if scope["path"] != "/healthz":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _get(app: Admission, path: str) -> tuple[int, dict[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"])


def test_requests_past_the_limit_are_refused_at_once_and_health_always_answers() -> None:
    registry = CollectorRegistry()
    in_flight = Gauge("in_flight", "", registry=registry)
    shed = Counter("shed", "", registry=registry)
    inner = Held()
    app = Admission(inner, LIMIT, in_flight, shed)

    async def scenario() -> None:
        held = [asyncio.create_task(_get(app, "/api/probe/read")) for _ in range(LIMIT)]
        await asyncio.sleep(0.05)
        assert inner.started == LIMIT and in_flight._value.get() == LIMIT

        status, headers = await asyncio.wait_for(_get(app, "/api/probe/read"), 1)
        assert status == 503 and headers[b"retry-after"] == b"1"
        assert inner.started == LIMIT, "a refused request reached the app"
        assert await asyncio.wait_for(_get(app, "/healthz"), 1) == (200, {})
        assert shed._value.get() == 1

        inner.release.set()
        assert [s for s, _ in await asyncio.gather(*held)] == [200] * LIMIT
        assert in_flight._value.get() == 0
        # room again once the work is done
        assert (await _get(app, "/api/probe/read"))[0] == 200

    asyncio.run(scenario())


def test_a_request_that_fails_still_gives_its_place_back() -> None:
    registry = CollectorRegistry()
    in_flight = Gauge("in_flight", "", registry=registry)

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    app = Admission(broken, 1, in_flight, Counter("shed", "", registry=registry))

    async def scenario() -> None:
        for _ in range(3):
            with contextlib.suppress(RuntimeError):
                await _get(app, "/x")
        assert in_flight._value.get() == 0

    asyncio.run(scenario())
