"""ECM records management: declare under a retention schedule, legal hold, disposition only
after retention and without hold; each step (refusals included) is in the audit trail."""

from __future__ import annotations

import itertools

import pytest
from apps_testlib import b64, make_user
from fastapi.testclient import TestClient
from test_ecm_documents import new_doc

pytestmark = pytest.mark.postgres
_n = itertools.count(1)


@pytest.fixture(scope="module")
def owner(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, "rec-owner", ["user"])


@pytest.fixture(scope="module")
def manager(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, "rec-manager", ["records_manager"])


@pytest.fixture(scope="module")
def auditor(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, "rec-auditor", ["auditor"])


@pytest.fixture(scope="module")
def immediate(ecm: TestClient, manager: dict[str, str]) -> str:
    """A schedule whose retention has already ended once declared (0 days)."""
    r = ecm.post(
        "/retention-schedules",
        json={"code": "TEST-0D", "title": "Test, no retention", "retention_days": 0},
        headers=manager,
    )
    assert r.status_code == 201, r.text
    return "TEST-0D"


def trail(ecm: TestClient, auditor: dict[str, str], doc_id: int) -> list[tuple[str, str]]:
    rows = ecm.get(f"/audit?document_id={doc_id}", headers=auditor).json()
    return [(r["action"], r["outcome"]) for r in reversed(rows)]


def test_declare_fixes_the_document_and_computes_retention(
    ecm: TestClient, owner: dict[str, str], manager: dict[str, str]
) -> None:
    doc = new_doc(ecm, owner)
    r = ecm.post(f"/documents/{doc['id']}/record", json={"schedule": "ADMIN-7Y"}, headers=manager)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["schedule"] == "ADMIN-7Y" and rec["legal_hold"] is False
    assert rec["retention_until"][:4] == str(int(rec["declared_at"][:4]) + 7)
    assert (
        ecm.patch(f"/documents/{doc['id']}", json={"title": "changed"}, headers=owner).status_code
        == 409
    )
    assert ecm.post(f"/documents/{doc['id']}/checkout", headers=owner).status_code == 409
    again = ecm.post(
        f"/documents/{doc['id']}/record", json={"schedule": "ADMIN-7Y"}, headers=manager
    )
    assert again.status_code == 409
    assert (
        ecm.get(f"/documents/{doc['id']}", headers=owner).json()["record"]["schedule"] == "ADMIN-7Y"
    )


def test_only_records_managers_declare_and_schedules_must_exist(
    ecm: TestClient, owner: dict[str, str], manager: dict[str, str]
) -> None:
    doc = new_doc(ecm, owner)
    r = ecm.post(f"/documents/{doc['id']}/record", json={"schedule": "ADMIN-7Y"}, headers=owner)
    assert r.status_code == 403
    r = ecm.post(f"/documents/{doc['id']}/record", json={"schedule": "NOPE"}, headers=manager)
    assert r.status_code == 422 and r.json()["detail"].startswith("schedule:")
    assert ecm.get(f"/documents/{doc['id']}", headers=owner).json()["record"] is None


def test_disposition_refused_before_retention_ends_and_audited(
    ecm: TestClient, owner: dict[str, str], manager: dict[str, str], auditor: dict[str, str]
) -> None:
    doc = new_doc(ecm, owner)
    ecm.post(f"/documents/{doc['id']}/record", json={"schedule": "TRANSITORY"}, headers=manager)
    r = ecm.post(f"/documents/{doc['id']}/disposition", headers=manager)
    assert r.status_code == 409 and "retention runs until" in r.json()["detail"]
    assert ecm.get(f"/documents/{doc['id']}/content", headers=owner).status_code == 200
    assert ("dispose", "refused") in trail(ecm, auditor, doc["id"])


def test_legal_hold_blocks_disposition_until_released(
    ecm: TestClient,
    owner: dict[str, str],
    manager: dict[str, str],
    auditor: dict[str, str],
    immediate: str,
) -> None:
    doc = new_doc(ecm, owner, content_b64=b64(b"minutes of the board"))
    doc_id = doc["id"]
    ecm.post(f"/documents/{doc_id}/record", json={"schedule": immediate}, headers=manager)
    held = ecm.post(
        f"/documents/{doc_id}/legal-hold", json={"reason": "OIOS case 2025/117"}, headers=manager
    )
    assert held.status_code == 200 and held.json()["legal_hold"] is True
    refused = ecm.post(f"/documents/{doc_id}/disposition", headers=manager)
    assert (
        refused.status_code == 409 and "legal hold (OIOS case 2025/117)" in refused.json()["detail"]
    )
    assert ecm.delete(f"/documents/{doc_id}/legal-hold", headers=manager).status_code == 200
    assert ecm.delete(f"/documents/{doc_id}/legal-hold", headers=manager).status_code == 409
    done = ecm.post(f"/documents/{doc_id}/disposition", headers=manager)
    assert done.status_code == 200, done.text
    assert done.json()["disposition"] == "destroy" and done.json()["disposed_at"]
    # The content is gone, the metadata and the trail stay.
    gone = ecm.get(f"/documents/{doc_id}/content", headers=owner)
    assert gone.status_code == 410
    meta = ecm.get(f"/documents/{doc_id}", headers=owner).json()
    assert meta["title"] == doc["title"] and meta["record"]["disposed_at"]
    versions = ecm.get(f"/documents/{doc_id}/versions", headers=owner).json()
    assert versions[0]["disposed"] is True and versions[0]["sha256"] == doc["sha256"]
    assert ecm.post(f"/documents/{doc_id}/disposition", headers=manager).status_code == 409
    assert (
        ecm.post(
            f"/documents/{doc_id}/legal-hold", json={"reason": "late"}, headers=manager
        ).status_code
        == 409
    )
    steps = trail(ecm, auditor, doc_id)
    for step in [
        ("create", "ok"),
        ("declare_record", "ok"),
        ("legal_hold", "ok"),
        ("dispose", "refused"),
        ("release_legal_hold", "ok"),
        ("dispose", "ok"),
        ("read_content", "gone"),
    ]:
        assert step in steps
    assert steps.index(("dispose", "refused")) < steps.index(("dispose", "ok"))


def test_schedules_and_hold_on_a_non_record(
    ecm: TestClient, owner: dict[str, str], manager: dict[str, str]
) -> None:
    codes = [s["code"] for s in ecm.get("/retention-schedules", headers=owner).json()]
    assert {"TRANSITORY", "ADMIN-7Y", "FIN-10Y", "PERMANENT"} <= set(codes)
    bad = ecm.post(
        "/retention-schedules",
        json={"code": "X", "title": "x", "retention_days": -1},
        headers=manager,
    )
    assert bad.status_code == 422 and "retention_days" in bad.json()["detail"]
    doc = new_doc(ecm, owner)
    r = ecm.post(f"/documents/{doc['id']}/legal-hold", json={"reason": "x"}, headers=manager)
    assert r.status_code == 404 and "not a declared record" in r.json()["detail"]
