"""`drctl lab seed`'s loader on small counts: data the APIs serve, consistent with the rules
(SHA-256, workflow, SLA), progress reported, and a re-run only tops up."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import psycopg
import pytest
from apps_testlib import ADMIN, ADMIN_TOKEN, PROBER_TOKEN, Cluster, _settings
from fastapi.testclient import TestClient

from apps.common.migrate import upgrade
from apps.crm import itil
from apps.seed import seed
from apps.seeding.crm import seed_crm
from apps.seeding.ecm import seed_ecm

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def dsns(cluster: Cluster) -> tuple[str, str]:
    """Databases of their own, so the other tests' counts are not disturbed."""
    from apps.crm.migrate import MIGRATIONS as CRM
    from apps.ecm.migrate import MIGRATIONS as ECM

    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        for db in ("ecm_seed", "crm_seed"):
            conn.execute(f"DROP DATABASE IF EXISTS {db}")
            conn.execute(f"CREATE DATABASE {db}")
    upgrade("ecm", ECM, cluster.dsn("ecm_seed"), ADMIN_TOKEN, PROBER_TOKEN)
    upgrade("crm", CRM, cluster.dsn("crm_seed"), ADMIN_TOKEN, PROBER_TOKEN)
    return cluster.dsn("ecm_seed"), cluster.dsn("crm_seed")


@pytest.fixture(scope="module")
def seeded(dsns: tuple[str, str]) -> list[tuple[str, int, int]]:
    calls: list[tuple[str, int, int]] = []
    seed(*dsns, documents=120, tickets=400, progress=lambda *a: calls.append(a))
    return calls


@pytest.fixture(scope="module")
def clients(dsns: tuple[str, str], seeded: object) -> Iterator[tuple[TestClient, TestClient]]:
    from apps.crm.main import create_app as crm_app
    from apps.ecm.main import create_app as ecm_app

    with (
        TestClient(ecm_app(_settings("ecm", dsns[0]))) as ecm,
        TestClient(crm_app(_settings("crm", dsns[1]))) as crm,
    ):
        yield ecm, crm


def _one(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
        assert row is not None
        return int(row[0])


def test_progress_reaches_the_totals(seeded: list[tuple[str, int, int]]) -> None:
    assert ("documents", 0, 120) in seeded and ("documents", 120, 120) in seeded
    assert ("tickets", 0, 400) in seeded and ("tickets", 400, 400) in seeded


def test_rerun_tops_up_and_never_duplicates(dsns: tuple[str, str], seeded: object) -> None:
    ecm_dsn, crm_dsn = dsns
    assert _one(ecm_dsn, "SELECT count(*) FROM documents") == 120
    assert seed_ecm(ecm_dsn, 120) == 0 and seed_crm(crm_dsn, 400) == 0
    # Several batches, continuing where the first run stopped.
    assert seed_ecm(ecm_dsn, 170, batch=20) == 50
    assert seed_crm(crm_dsn, 460, batch=25) == 60
    assert _one(ecm_dsn, "SELECT count(*) FROM documents") == 170
    assert _one(crm_dsn, "SELECT count(*) FROM tickets") == 460
    assert _one(crm_dsn, "SELECT count(*) FROM customers") == _one(
        crm_dsn, "SELECT count(DISTINCT lower(email)) FROM customers"
    )


def test_seeded_documents_are_served_with_their_sha256(
    clients: tuple[TestClient, TestClient], dsns: tuple[str, str]
) -> None:
    ecm, _ = clients
    with psycopg.connect(dsns[0]) as conn:
        rows = conn.execute(
            """SELECT d.id, v.sha256 FROM documents d JOIN document_versions v
                 ON v.document_id = d.id AND v.version = d.current_version
                WHERE v.content IS NOT NULL ORDER BY d.id LIMIT 5"""
        ).fetchall()
        bad = conn.execute(
            """SELECT count(*) FROM document_versions
                WHERE content IS NOT NULL AND encode(sha256(content), 'hex') <> sha256"""
        ).fetchone()
    assert rows and bad == (0,)
    for doc_id, sha in rows:
        r = ecm.get(f"/documents/{doc_id}/content", headers=ADMIN)
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha
        assert r.headers["etag"] == f'"{sha}"'
    hits = ecm.get("/search?q=civilians", headers=ADMIN).json()
    assert hits["count"] > 0
    trail = ecm.get("/audit?action=create&limit=1000", headers=ADMIN).json()
    assert len(trail) >= 120


def test_seeded_tickets_follow_the_rules(
    clients: tuple[TestClient, TestClient], dsns: tuple[str, str]
) -> None:
    _, crm = clients
    with psycopg.connect(dsns[1]) as conn:
        tickets = conn.execute(
            "SELECT id, kind, status, impact, urgency, priority, number FROM tickets"
        ).fetchall()
        walks = conn.execute(
            """SELECT ticket_id, from_status, to_status FROM ticket_events
                WHERE kind = 'status' ORDER BY ticket_id, id"""
        ).fetchall()
        late_order = conn.execute(
            """SELECT count(*) FROM tickets WHERE resolved_at < reported_at
                OR closed_at < reported_at OR responded_at < reported_at"""
        ).fetchone()
    assert late_order == (0,)
    for _, kind, status, impact, urgency, priority, _ in tickets:
        assert priority == itil.priority(impact, urgency)
        assert status in itil.TRANSITIONS[kind]
    kinds = {t[0]: t[1] for t in tickets}
    for ticket_id, src, dst in walks:
        assert itil.refusal(kinds[ticket_id], src, dst) is None, (src, dst)
    number = tickets[0][6]
    assert crm.get(f"/tickets/{number}", headers=ADMIN).status_code == 200
    report = crm.get("/reports/open-by-priority-and-desk", headers=ADMIN).json()
    assert report["total"] > 0 and len(report["by_desk"]) > 3
    assert crm.get("/reports/sla-breaches", headers=ADMIN).json()["count"] > 0
    assert crm.get("/tickets/search?q=VPN", headers=ADMIN).json()["count"] > 0


def test_symbols_already_in_use_are_left_out(dsns: tuple[str, str], seeded: object) -> None:
    from apps.seeding.ecm import _drop_taken_symbols

    with psycopg.connect(dsns[0]) as conn:
        row = conn.execute(
            "SELECT symbol, language FROM documents WHERE symbol IS NOT NULL LIMIT 1"
        ).fetchone()
        assert row is not None
        docs = [(1, "t", "a", row[1], None, row[0], "HR"), (2, "t", "a", "en", None, "X/1", "HR")]
        _drop_taken_symbols(conn, docs)
    assert docs[0][5] is None and docs[1][5] == "X/1"


def test_lab_seed_uses_each_systems_routers_from_the_topology() -> None:
    from drctl.lab.seed import lab_dsns
    from drctl.topology import DEFAULT_PATH, load_topology

    dsns = lab_dsns(load_topology(DEFAULT_PATH), "pw")
    assert dsns["ecm"][0].startswith("host=127.10.1.1 port=5000 dbname=ecm user=ecm password=pw")
    assert dsns["crm"][1].startswith("host=127.10.2.1 port=5001 dbname=crm user=crm")


def test_lab_seed_falls_back_to_a_working_router_and_reports(
    dsns: tuple[str, str], seeded: object
) -> None:
    import io

    from rich.console import Console

    from drctl.lab.seed import run_seed

    dead = "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2"
    out = io.StringIO()
    calls: list[tuple[str, str, int, int]] = []

    def fake(ecm: str, crm: str, documents: int, tickets: int, progress: object) -> None:
        calls.append((ecm, crm, documents, tickets))
        assert callable(progress)
        progress("documents", 5, documents)
        progress("documents", documents, documents)
        progress("tickets", tickets, tickets)

    code = run_seed(
        {"ecm": [dead, dsns[0]], "crm": [dsns[1]]}, 10, 20, Console(file=out, width=120), fake
    )
    assert code == 0 and calls == [(dsns[0], dsns[1], 10, 20)]
    text = out.getvalue()
    assert "10 documents (+5)" in text and "20 tickets (+0)" in text
    assert "password" not in text


def test_lab_seed_without_a_lab_is_a_clear_error(tmp_path: object) -> None:
    from pathlib import Path

    from drctl.errors import EstateError
    from drctl.lab.paths import LabPaths
    from drctl.lab.seed import run_seed, seed_lab
    from drctl.topology import DEFAULT_PATH, load_topology

    paths = LabPaths(Path(str(tmp_path)), Path(str(tmp_path)))
    with pytest.raises(EstateError, match="run drctl lab up first"):
        seed_lab(load_topology(DEFAULT_PATH), 1, 1, paths)
    dead = "host=127.0.0.1 port=1 dbname=x user=x"
    with pytest.raises(EstateError, match="no database router reaches a primary"):
        run_seed({"ecm": [dead], "crm": [dead]}, 1, 1)
