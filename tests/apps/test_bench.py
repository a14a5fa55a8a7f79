"""The apps benchmark's measurement, run briefly against local servers (never the lab)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from apps_testlib import ADMIN_TOKEN, _settings

# benchmarks/ is not an installed package: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.apps_bench import Result, Targets, report, run

pytestmark = pytest.mark.postgres


def _serve(app: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def local(ecm_dsn: str, crm_dsn: str) -> Iterator[Targets]:
    from apps.crm.main import create_app as crm_app
    from apps.ecm.main import create_app as ecm_app

    ecm, ecm_thread, ecm_url = _serve(ecm_app(_settings("ecm", ecm_dsn)))
    crm, crm_thread, crm_url = _serve(crm_app(_settings("crm", crm_dsn)))
    yield Targets(ecm_url, crm_url, ecm_url)  # no cache here: the hub is the origin itself
    for server, thread in ((ecm, ecm_thread), (crm, crm_thread)):
        server.should_exit = True
        thread.join(10)


def test_every_scenario_completes_requests(
    local: Targets, capsys: pytest.CaptureFixture[str]
) -> None:
    results = run(local, ADMIN_TOKEN, seconds=0.4, concurrency=2)
    assert [r.name for r in results] == [
        "ECM upload (front door)",
        "ECM download (front door)",
        "ECM download (hub cache)",
        "CRM ticket create (front door)",
        "CRM search (front door)",
    ]
    for result in results:
        assert result.latencies and result.errors == 0, result
        assert result.rate > 0 and result.percentile(50) <= result.percentile(99)
    report(results)
    out = capsys.readouterr().out
    assert "req/s" in out and "p99 ms" in out and "hub cache: 0% of requests" in out


def test_nearest_rank_percentiles() -> None:
    r = Result("x", 2.0, [i / 1000 for i in range(1, 101)])
    assert r.percentile(50) == pytest.approx(50.0) and r.percentile(99) == pytest.approx(99.0)
    assert r.rate == 50.0
    assert Result("empty", 1.0).percentile(50) != Result("empty", 1.0).percentile(50)  # NaN
