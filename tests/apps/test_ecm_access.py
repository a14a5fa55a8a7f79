"""ECM access control, search and the audit trail: confidential documents never reach a
user without the right, refusals are audited, every read and change is in the trail."""

from __future__ import annotations

import pytest
from apps_testlib import b64, make_user
from fastapi.testclient import TestClient
from test_ecm_documents import new_doc

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def owner(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, "acc-owner", ["user"])


@pytest.fixture(scope="module")
def outsider(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, "acc-outsider", ["user"])


@pytest.fixture(scope="module")
def auditor(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, "acc-auditor", ["auditor"])


def test_confidential_document_is_refused_and_the_refusal_audited(
    ecm: TestClient, owner: dict[str, str], outsider: dict[str, str], auditor: dict[str, str]
) -> None:
    doc = new_doc(ecm, owner, security_level="confidential", title="Board of Inquiry report")
    for path in ("", "/content", "/versions", "/record"):
        r = ecm.get(f"/documents/{doc['id']}{path}", headers=outsider)
        assert r.status_code == 403, path
        assert "Board of Inquiry" not in r.text
    denied = ecm.get(f"/audit?document_id={doc['id']}&actor=acc-outsider", headers=auditor).json()
    assert {d["action"] for d in denied} == {
        "read_metadata",
        "read_content",
        "read_versions",
        "read_record",
    }
    assert all(d["outcome"] == "denied" for d in denied)
    assert denied[0]["details"]["security_level"] == "confidential"


def test_grants_give_and_take_access(
    ecm: TestClient, owner: dict[str, str], outsider: dict[str, str]
) -> None:
    doc = new_doc(ecm, owner, security_level="strictly_confidential")
    url = f"/documents/{doc['id']}"
    assert (
        ecm.put(
            f"{url}/grants", json={"username": "acc-outsider", "access": "read"}, headers=owner
        ).status_code
        == 200
    )
    assert ecm.get(f"{url}/content", headers=outsider).status_code == 200
    assert ecm.post(f"{url}/checkout", headers=outsider).status_code == 403
    # Only the owner manages grants.
    assert (
        ecm.put(
            f"{url}/grants", json={"username": "acc-outsider", "access": "write"}, headers=outsider
        ).status_code
        == 403
    )
    assert (
        ecm.put(
            f"{url}/grants", json={"username": "acc-outsider", "access": "none"}, headers=owner
        ).status_code
        == 200
    )
    assert ecm.get(f"{url}/content", headers=outsider).status_code == 403
    bad = ecm.put(f"{url}/grants", json={"username": "ghost", "access": "read"}, headers=owner)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("username:")


def test_internal_documents_are_readable_by_any_reader_but_not_writable(
    ecm: TestClient, owner: dict[str, str], outsider: dict[str, str]
) -> None:
    doc = new_doc(ecm, owner, security_level="internal")
    assert ecm.get(f"/documents/{doc['id']}/content", headers=outsider).status_code == 200
    assert (
        ecm.patch(f"/documents/{doc['id']}", json={"title": "x"}, headers=outsider).status_code
        == 403
    )
    reader = make_user(ecm, "acc-reader", ["reader"])
    assert ecm.get(f"/documents/{doc['id']}", headers=reader).status_code == 200
    r = ecm.post(
        "/documents",
        json={
            "title": "t",
            "author": "a",
            "language": "en",
            "date": "2024-01-01",
            "classification": "HR",
            "content_b64": "",
        },
        headers=reader,
    )
    assert r.status_code == 403


def test_full_text_search_with_stemming_symbols_and_withheld_hits(
    ecm: TestClient, owner: dict[str, str], outsider: dict[str, str], auditor: dict[str, str]
) -> None:
    text = "The peacekeepers were deployed to protect civilians in the buffer zone."
    public = new_doc(
        ecm,
        owner,
        title="Protection of civilians in Abyei",
        language="en",
        symbol="S/2025/31",
        content_b64=b64(text),
        classification="PS.PKO",
    )
    secret = new_doc(
        ecm,
        owner,
        title="Protection of civilians: sources",
        language="en",
        security_level="confidential",
        content_b64=b64(text),
    )
    french = new_doc(
        ecm,
        owner,
        title="Rapport sur les opérations",
        language="fr",
        content_b64=b64("Les casques bleus protègent les populations civiles."),
    )
    # Stemming: "deploying" finds "deployed"; the symbol is searchable as typed.
    hits = ecm.get("/search?q=deploying civilian", headers=outsider).json()["hits"]
    ids = [h["id"] for h in hits]
    assert public["id"] in ids and secret["id"] not in ids
    assert [h["id"] for h in ecm.get("/search?q=S/2025/31", headers=outsider).json()["hits"]] == [
        public["id"]
    ]
    owners = [
        h["id"] for h in ecm.get("/search?q=deploying civilian", headers=owner).json()["hits"]
    ]
    assert secret["id"] in owners
    fr = ecm.get("/search?q=population civile&lang=fr&language=fr", headers=outsider).json()["hits"]
    assert [h["id"] for h in fr] == [french["id"]]
    filtered = ecm.get("/search?q=civilians&classification=PS.PKO", headers=outsider).json()
    assert {h["id"] for h in filtered["hits"]} == {public["id"]}
    withheld = ecm.get(
        f"/audit?document_id={secret['id']}&action=search_hit", headers=auditor
    ).json()
    assert (
        withheld and withheld[0]["actor"] == "acc-outsider" and withheld[0]["outcome"] == "denied"
    )
    assert ecm.get("/search?q=", headers=outsider).status_code == 422
    assert ecm.get("/search?q=x&lang=xx", headers=outsider).status_code == 422


def test_every_read_and_change_is_in_the_trail(
    ecm: TestClient, owner: dict[str, str], outsider: dict[str, str], auditor: dict[str, str]
) -> None:
    doc = new_doc(ecm, owner)
    url = f"/documents/{doc['id']}"
    ecm.get(url, headers=outsider)
    ecm.get(f"{url}/content", headers=outsider)
    ecm.get(f"{url}/versions", headers=outsider)
    ecm.patch(url, json={"title": "Revised title"}, headers=owner)
    ecm.post(f"{url}/checkout", headers=owner)
    ecm.post(f"{url}/checkin", json={"content_b64": b64("v2")}, headers=owner)
    rows = list(reversed(ecm.get(f"/audit?document_id={doc['id']}", headers=auditor).json()))
    got = [(r["actor"], r["action"]) for r in rows]
    assert got == [
        ("acc-owner", "create"),
        ("acc-outsider", "read_metadata"),
        ("acc-outsider", "read_content"),
        ("acc-outsider", "read_versions"),
        ("acc-owner", "update"),
        ("acc-owner", "checkout"),
        ("acc-owner", "checkin"),
    ]
    assert rows[4]["details"]["changed"] == ["title"]
    assert rows[6]["details"]["version"] == 2
    assert all(r["at"] for r in rows)
    assert ecm.get("/audit", headers=outsider).status_code == 403
