"""Problems with linked incidents, configuration items, a customer's history across desks,
and the reports (open tickets by priority and desk, SLA breaches)."""

from __future__ import annotations

import pytest
from crm_testlib import customer, move, person, ticket
from fastapi.testclient import TestClient

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def agent(crm: TestClient) -> dict[str, str]:
    return person(crm, "agent")


@pytest.fixture(scope="module")
def manager(crm: TestClient) -> dict[str, str]:
    return person(crm, "manager")


def test_configuration_items(crm: TestClient, agent: dict[str, str]) -> None:
    r = crm.post(
        "/cis",
        json={
            "name": "ecm-db (Brindisi)",
            "ci_type": "database",
            "site": "brindisi",
            "owner_group": "DBA",
        },
        headers=agent,
    )
    assert r.status_code == 201, r.text
    ci = r.json()
    dup = crm.post("/cis", json={"name": "ecm-db (Brindisi)", "ci_type": "database"}, headers=agent)
    assert dup.status_code == 409 and dup.json()["detail"].startswith("name:")
    bad = crm.post("/cis", json={"name": "x", "ci_type": "toaster"}, headers=agent)
    assert bad.status_code == 422 and "ci_type" in bad.json()["detail"]
    bad = crm.post(
        "/cis", json={"name": "y", "ci_type": "server", "owner_group": "NOPE"}, headers=agent
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("owner_group:")
    t = ticket(crm, agent, customer_email=customer(crm, agent), ci=ci["id"])
    assert t["ci"] == "ecm-db (Brindisi)"
    got = crm.get(f"/cis/{ci['id']}", headers=agent).json()
    assert [x["number"] for x in got["open_tickets"]] == [t["number"]]
    assert any(
        c["name"] == "ecm-db (Brindisi)"
        for c in crm.get("/cis?ci_type=database", headers=agent).json()
    )


def test_problem_links_incidents_and_resolving_it_resolves_them(
    crm: TestClient, agent: dict[str, str]
) -> None:
    email = customer(crm, agent)
    problem = ticket(crm, agent, kind="problem", title="Recurring VPN drops", customer_email=email)
    p = problem["number"]
    assert p.startswith("PRB") and problem["sla"]["resolve_due"] is None
    incidents = [ticket(crm, agent, customer_email=email)["number"] for _ in range(3)]
    for n in incidents:
        r = crm.post(f"/problems/{p}/incidents", json={"incident": n}, headers=agent)
        assert r.status_code == 201, r.text
    assert crm.get(f"/tickets/{incidents[0]}", headers=agent).json()["problem"] == p
    wrong = crm.post(f"/problems/{p}/incidents", json={"incident": p}, headers=agent)
    assert wrong.status_code == 422 and wrong.json()["detail"].startswith("incident:")
    other = ticket(crm, agent, kind="problem", customer_email=email)["number"]
    taken = crm.post(f"/problems/{other}/incidents", json={"incident": incidents[0]}, headers=agent)
    assert taken.status_code == 409 and p in taken.json()["detail"]
    assert crm.delete(f"/problems/{p}/incidents/{incidents[2]}", headers=agent).status_code == 200
    linked = crm.get(f"/problems/{p}/incidents", headers=agent).json()
    assert [i["number"] for i in linked] == incidents[:2]
    assert move(crm, agent, incidents[1], "cancelled").status_code == 200
    for status in ("investigating", "known_error"):
        assert move(crm, agent, p, status).status_code == 200
    assert (
        move(
            crm, agent, p, "resolved", resolution="Firmware 4.2 on the VPN concentrator"
        ).status_code
        == 200
    )
    states = {
        i["number"]: i["status"] for i in crm.get(f"/problems/{p}/incidents", headers=agent).json()
    }
    assert states == {incidents[0]: "resolved", incidents[1]: "cancelled"}
    fixed = crm.get(f"/tickets/{incidents[0]}", headers=agent).json()
    assert fixed["resolution"] == "Firmware 4.2 on the VPN concentrator"
    assert crm.get(f"/tickets/{incidents[2]}", headers=agent).json()["status"] == "new"
    late = crm.post(f"/problems/{p}/incidents", json={"incident": incidents[2]}, headers=agent)
    assert late.status_code == 409


def test_customer_history_spans_every_desk(crm: TestClient, agent: dict[str, str]) -> None:
    email = customer(crm, agent, site="geneva")
    numbers = [
        ticket(crm, agent, customer_email=email)["number"],  # routed to the customer's site
        ticket(crm, agent, customer_email=email, desk="SD-BANGKOK")["number"],
        ticket(crm, agent, customer_email=email, desk="SD-SANTIAGO", kind="request")["number"],
    ]
    found = crm.get(f"/customers?email={email.upper()}", headers=agent).json()
    assert len(found) == 1
    history = crm.get(f"/customers/{found[0]['id']}/history", headers=agent).json()
    assert history["desks"] == ["SD-BANGKOK", "SD-GENEVA", "SD-SANTIAGO"]
    assert sorted(t["number"] for t in history["tickets"]) == sorted(numbers)
    assert {t["desk_site"] for t in history["tickets"]} == {"geneva", "bangkok", "santiago"}
    stranger = person(crm, "user")
    assert crm.get(f"/customers/{found[0]['id']}/history", headers=stranger).status_code == 403
    assert crm.get("/customers/999999999/history", headers=agent).status_code == 404
    dup = crm.post("/customers", json={"email": email, "name": "x"}, headers=agent)
    assert dup.status_code == 409 and dup.json()["detail"].startswith("email:")


def test_reports_open_by_priority_and_desk(
    crm: TestClient, manager: dict[str, str], agent: dict[str, str]
) -> None:
    before = crm.get("/reports/open-by-priority-and-desk", headers=manager).json()
    email = customer(crm, agent)
    ticket(crm, agent, customer_email=email, desk="SD-BEIRUT", impact=1, urgency=1)
    ticket(crm, agent, customer_email=email, desk="SD-BEIRUT", impact=1, urgency=1)
    done = ticket(crm, agent, customer_email=email, desk="SD-BEIRUT", impact=3, urgency=3)
    move(crm, agent, done["number"], "cancelled")
    after = crm.get("/reports/open-by-priority-and-desk", headers=manager).json()
    assert after["total"] == before["total"] + 2
    was = before["by_desk"].get("SD-BEIRUT", {}).get("1", 0)
    assert after["by_desk"]["SD-BEIRUT"]["1"] == was + 2
    assert {"desk": "SD-BEIRUT", "priority": 1, "count": was + 2} in after["rows"]
    user = person(crm, "user")
    assert crm.get("/reports/open-by-priority-and-desk", headers=user).status_code == 403


def test_reports_sla_breaches(
    crm: TestClient, manager: dict[str, str], agent: dict[str, str]
) -> None:
    email = customer(crm, agent)
    late = ticket(
        crm,
        agent,
        customer_email=email,
        desk="SD-VIENNA",
        impact=1,
        urgency=1,
        reported_at="2025-01-06T09:00:00+00:00",
    )
    fresh = ticket(crm, agent, customer_email=email, desk="SD-VIENNA", impact=1, urgency=1)
    # Resolved in time: reported 2 h ago, P1 gets 4 h; answered at once.
    in_time = ticket(crm, agent, customer_email=email, desk="SD-VIENNA", impact=1, urgency=1)
    move(crm, agent, in_time["number"], "in_progress")
    move(crm, agent, in_time["number"], "resolved", resolution="quick fix")
    r = crm.get("/reports/sla-breaches?desk=SD-VIENNA", headers=manager).json()
    numbers = {t["number"] for t in r["tickets"]}
    assert late["number"] in numbers
    assert fresh["number"] not in numbers and in_time["number"] not in numbers
    row = next(t for t in r["tickets"] if t["number"] == late["number"])
    assert row["response_breached"] and row["resolve_breached"]
    assert row["resolve_overdue_minutes"] > 60 * 24
    assert r["by_desk"] == [
        {"desk": "SD-VIENNA", "breached": r["count"], "response": r["count"], "resolve": r["count"]}
    ]
    # Closing it late does not erase the breach; open=true leaves it out.
    move(crm, agent, late["number"], "cancelled")
    assert late["number"] not in {
        t["number"]
        for t in crm.get("/reports/sla-breaches?desk=SD-VIENNA", headers=manager).json()["tickets"]
    }
    bad = crm.get("/reports/sla-breaches?desk=vienna", headers=manager)
    assert bad.status_code == 422 and "desk" in bad.json()["detail"]
