"""The drill engine's probe API on both apps: writes acknowledged only after COMMIT, read
back by sequence; ECM documents checked by SHA-256; quick 503s while the database is away,
and recovery once it is back."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from apps_testlib import ADMIN, PROBER, Cluster, _settings, b64, make_user
from fastapi.testclient import TestClient

from apps.common.settings import Settings
from apps.ecm.main import create_app

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("app", ["ecm", "crm"])
def test_writes_are_acknowledged_and_read_back(request: pytest.FixtureRequest, app: str) -> None:
    client: TestClient = request.getfixturevalue(app)
    drill = f"site-loss-{app}"
    for seq in range(5):
        r = client.post(
            "/api/probe/writes",
            json={"drill": drill, "seq": seq, "client_ts": time.time()},
            headers=PROBER,
        )
        assert r.status_code == 201, r.text
        assert r.json()["seq"] == seq and r.json()["committed_at"]
    again = client.post(
        "/api/probe/writes", json={"drill": drill, "seq": 3, "client_ts": 1.0}, headers=PROBER
    )
    assert again.status_code == 409 and again.json()["detail"].startswith("seq:")
    assert client.get(f"/api/probe/writes/{drill}", headers=PROBER).json()["seqs"] == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert client.get("/api/probe/writes/never-ran", headers=PROBER).json()["seqs"] == []
    assert client.get("/api/probe/read", headers=PROBER).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"drill": "d", "seq": -1, "client_ts": 1.0}, "seq"),
        ({"drill": "d", "seq": 2**63, "client_ts": 1.0}, "seq"),
        ({"drill": "", "seq": 1, "client_ts": 1.0}, "drill"),
        ({"drill": "d", "seq": 1}, "client_ts"),
        ({"drill": "d", "seq": 1, "client_ts": "soon"}, "client_ts"),
        ({"drill": "d", "seq": 1, "client_ts": 1.0, "extra": 1}, "extra"),
    ],
)
def test_bad_probe_writes_name_the_field(
    crm: TestClient, body: dict[str, object], field: str
) -> None:
    r = crm.post("/api/probe/writes", json=body, headers=PROBER)
    assert r.status_code == 422 and field in r.json()["detail"]
    assert crm.get("/api/probe/writes/d", headers=PROBER).json()["seqs"] == []


def test_probe_routes_need_the_prober_role(crm: TestClient) -> None:
    body = {"drill": "auth", "seq": 1, "client_ts": 1.0}
    assert crm.post("/api/probe/writes", json=body).status_code == 401
    user = make_user(crm, "probe-outsider", ["user"])
    assert crm.post("/api/probe/writes", json=body, headers=user).status_code == 403
    assert crm.get("/api/probe/read", headers=user).status_code == 403
    assert crm.post("/api/probe/writes", json=body, headers=ADMIN).status_code == 201


def test_probe_documents_are_checked_by_sha256(ecm: TestClient) -> None:
    text = "probe document 1 " * 100
    r = ecm.post(
        "/api/probe/documents", json={"drill": "docs", "seq": 1, "content": text}, headers=PROBER
    )
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    got = ecm.get(f"/api/probe/documents/{stored['id']}", headers=PROBER).json()
    assert got["sha256"] == stored["sha256"] and got["intact"] and got["size"] == len(text)
    binary = ecm.post(
        "/api/probe/documents", json={"content_b64": b64(b"\x00\xff" * 50)}, headers=PROBER
    ).json()
    assert binary["sha256"] == hashlib.sha256(b"\x00\xff" * 50).hexdigest()
    assert binary["drill"] == "adhoc" and binary["seq"] == binary["id"]
    listed = ecm.get("/api/probe/documents/docs", headers=PROBER).json()
    assert [(d["seq"], d["sha256"]) for d in listed] == [(1, stored["sha256"])]
    assert ecm.get("/api/probe/documents/999999999", headers=PROBER).status_code == 404
    both = ecm.post(
        "/api/probe/documents", json={"content": "a", "content_b64": "YQ=="}, headers=PROBER
    )
    assert both.status_code == 422 and "content" in both.json()["detail"]
    dup = ecm.post(
        "/api/probe/documents", json={"drill": "docs", "seq": 1, "content": "x"}, headers=PROBER
    )
    assert dup.status_code == 409


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers, like a partitioned site."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_hanging_database_gives_quick_503s(black_hole: int) -> None:
    dsn = f"host=127.0.0.1 port={black_hole} dbname=ecm user=postgres"
    settings = Settings(app="ecm", dsn=dsn, admin_token="", site="valencia")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        for path, method in [
            ("/api/probe/read", "GET"),
            ("/api/probe/writes", "POST"),
            ("/readyz", "GET"),
            ("/documents/1", "GET"),
        ]:
            started = time.monotonic()
            body = {"drill": "x", "seq": 1, "client_ts": 1.0} if method == "POST" else None
            r = client.request(method, path, json=body, headers=PROBER)
            elapsed = time.monotonic() - started
            assert r.status_code == 503, (path, r.text)
            limit = 1.4 if path.startswith("/api/probe") or path == "/readyz" else 3.4
            assert elapsed < limit, (path, elapsed)
        assert r.headers["retry-after"] == "1"


def test_service_returns_after_the_database_restarts(
    cluster: Cluster, crm: TestClient, crm_dsn: str
) -> None:
    write = {"drill": "restart", "seq": 0, "client_ts": 1.0}
    assert crm.post("/api/probe/writes", json=write, headers=PROBER).status_code == 201
    cluster.stop()
    try:
        started = time.monotonic()
        down = crm.post("/api/probe/writes", json={**write, "seq": 1}, headers=PROBER)
        assert down.status_code == 503 and time.monotonic() - started < 1.4
        assert crm.get("/readyz").status_code == 503
    finally:
        cluster.start()
    # Pooled connections died with the server; the next request must not fail on one.
    assert (
        crm.post("/api/probe/writes", json={**write, "seq": 2}, headers=PROBER).status_code == 201
    )
    assert crm.get("/readyz").status_code == 200
    assert crm.get("/api/probe/writes/restart", headers=PROBER).json()["seqs"] == [0, 2]
    metrics = crm.get("/metrics").text
    assert 'route="/api/probe/writes",status="503"' in metrics


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRCTL_DB_DSN", "host=x")
    monkeypatch.setenv("DRCTL_ADMIN_TOKEN", "a")
    monkeypatch.setenv("DRCTL_PROBER_TOKEN", "p")
    monkeypatch.setenv("DRCTL_SITE", "valencia")
    s = Settings.from_env("crm")
    assert (s.dsn, s.admin_token, s.prober_token, s.site) == ("host=x", "a", "p", "valencia")
    assert s.probe_deadline_s <= 1.0
    assert _settings("crm", "x").prober_token
