"""Admission control (apps/common/admission.py): an app slowed down by its database is never
buried under requests whose users have already given up.

Without it, a switchover under the drill's probes (100 requests/s, each abandoned after 0.5 s)
left the apps serving a backlog nobody waited for: their event loops fell behind, `/healthz`
timed out, and the drill's steady-state wait failed minutes after the database was back.
"""

from __future__ import annotations

import contextlib
import threading
import time

import httpx
import psycopg
import pytest

from drctl.estate.lab import LabEstate
from drctl.topology.model import Topology

pytestmark = pytest.mark.lab

LIMIT = 20  # apps/common/settings.py: max_in_flight
FLOOD_SECONDS = 4.0
CLIENTS = 40
CLIENT_TIMEOUT = 0.25  # users who give up fast: what they asked must not be served later


def _metric(app: str, name: str, route: str = "") -> float:
    """The sum of the app's own samples of `name` (on `route`, if given)."""
    text = httpx.get(f"{app}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and (not route or f'route="{route}"' in line)
    )


def _worked(app: str) -> float:
    """Requests the app took on (those it refused at once never reach a route)."""
    return _metric(app, "drctl_app_http_requests_total", "/api/probe/read")


def test_a_slow_database_does_not_bury_the_app_under_abandoned_requests(
    steady: LabEstate, topology: Topology
) -> None:
    ecm = topology.system("ecm")
    assert ecm.app is not None
    front_site = topology.front_door.name
    front = f"http://{steady.address(front_site)}:{ecm.app.port}"
    app = f"http://{steady.address('brindisi')}:{ecm.app.port}"
    token = steady.secret("prober_token")
    password = steady.secret("db_superuser")
    primary = (
        f"host={steady.address('brindisi')} port={ecm.database.port} user=postgres "
        f"password={password} dbname=ecm connect_timeout=2"
    )
    before = _worked(app)
    shed_before = _metric(app, "drctl_app_requests_shed_total")
    sent = 0
    in_flight: list[int] = []
    health_s: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    def user() -> None:
        nonlocal sent
        with httpx.Client(
            base_url=front,
            headers={"Authorization": f"Bearer {token}"},
            timeout=CLIENT_TIMEOUT,
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as client:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    client.get("/api/probe/read")
                with lock:
                    sent += 1

    def watch() -> None:
        while not stop.is_set():
            in_flight.append(int(_metric(app, "drctl_app_requests_in_flight")))
            started = time.monotonic()
            try:
                httpx.get(f"{app}/healthz", timeout=5)
            finally:
                health_s.append(time.monotonic() - started)
            time.sleep(0.2)

    # every read of the probe table now waits (until the app's 1 s probe deadline)
    with psycopg.connect(primary) as holder:
        holder.execute("LOCK TABLE readiness IN ACCESS EXCLUSIVE MODE")
        threads = [threading.Thread(target=user) for _ in range(CLIENTS)]
        threads.append(threading.Thread(target=watch))
        for t in threads:
            t.start()
        time.sleep(FLOOD_SECONDS)
        stop.set()
        for t in threads:
            t.join()
        holder.rollback()

    started = time.monotonic()
    recovered = None
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=0.5) as client:
        while time.monotonic() - started < 20:
            try:
                if client.get(f"{front}/api/probe/read").status_code == 200:
                    recovered = time.monotonic() - started
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    worked = _worked(app) - before
    shed = _metric(app, "drctl_app_requests_shed_total") - shed_before
    print(
        f"sent {sent}, refused at once {shed:.0f}, taken on {worked:.0f}, at work in the app "
        f"up to {max(in_flight)}, /healthz worst {max(health_s):.2f} s, "
        f"reads again after {recovered} s"
    )

    assert shed > 0, "the flood never reached the limit: the test proved nothing"
    assert max(in_flight) <= LIMIT
    # what the app took on is bounded by its limit, not by what was sent
    assert worked < sent / 2
    assert max(health_s) < 1.0, "the app's liveness answer queued behind the flood"
    assert recovered is not None and recovered < 3.0, "a backlog outlived the slow database"
