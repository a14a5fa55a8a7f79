"""ECM documents: metadata, content with SHA-256, versions, check-out/check-in, caching."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import pytest
from apps_testlib import ADMIN, b64, make_user
from fastapi.testclient import TestClient

pytestmark = pytest.mark.postgres
_n = itertools.count()


def new_doc(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {
        "title": f"Report of the Special Rapporteur {next(_n)}",
        "author": "OHCHR",
        "language": "en",
        "date": "2024-03-01",
        "classification": "HR",
        "security_level": "public",
        "content_b64": b64("Freedom of expression and access to information."),
        "media_type": "text/plain",
        "filename": "report.txt",
    }
    body.update(overrides)
    r = client.post("/documents", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def alice(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, "alice", ["user"])


@pytest.fixture(scope="module")
def bob(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, "bob", ["user"])


def test_create_stores_metadata_and_sha256(ecm: TestClient, alice: dict[str, str]) -> None:
    content = b"Human Rights Council, fifty-fifth session"
    doc = new_doc(ecm, alice, symbol="A/HRC/55/12", content_b64=b64(content), language="fr")
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    assert doc["size"] == len(content)
    assert doc["symbol"] == "A/HRC/55/12"
    assert doc["owner"] == "alice"
    got = ecm.get(f"/documents/{doc['id']}", headers=alice).json()
    assert got["language"] == "fr" and got["date"] == "2024-03-01" and got["current_version"] == 1


def test_download_has_etag_cache_control_and_304(ecm: TestClient, alice: dict[str, str]) -> None:
    doc = new_doc(ecm, alice, content_b64=b64(b"public bytes"))
    r = ecm.get(f"/documents/{doc['id']}/content", headers=alice)
    assert r.status_code == 200 and r.content == b"public bytes"
    assert r.headers["etag"] == f'"{hashlib.sha256(b"public bytes").hexdigest()}"'
    cache = r.headers["cache-control"]
    assert cache.startswith("public, max-age=300")
    assert "stale-while-revalidate=" in cache and "stale-if-error=" in cache
    assert r.headers["x-served-by"] == "brindisi"
    again = ecm.get(
        f"/documents/{doc['id']}/content",
        headers={**alice, "If-None-Match": f'"x", {r.headers["etag"]}'},
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == r.headers["etag"]
    stale = ecm.get(
        f"/documents/{doc['id']}/content", headers={**alice, "If-None-Match": '"other"'}
    )
    assert stale.status_code == 200


@pytest.mark.parametrize(
    ("level", "cache"),
    [("internal", "private, no-cache"), ("confidential", "private, no-store")],
)
def test_only_public_downloads_are_shared_cacheable(
    ecm: TestClient, alice: dict[str, str], level: str, cache: str
) -> None:
    doc = new_doc(ecm, alice, security_level=level)
    r = ecm.get(f"/documents/{doc['id']}/content", headers=alice)
    assert r.status_code == 200
    assert r.headers["cache-control"] == cache


def test_checkout_lock_conflict_and_checkin_makes_a_version(
    ecm: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    doc = new_doc(ecm, alice)
    doc_id = doc["id"]
    assert ecm.put(f"/documents/{doc_id}/grants", json={"username": "bob", "access": "write"},
                   headers=alice).status_code == 200  # fmt: skip
    assert ecm.post(f"/documents/{doc_id}/checkout", headers=alice).status_code == 200
    taken = ecm.post(f"/documents/{doc_id}/checkout", headers=bob)
    assert taken.status_code == 409 and "alice" in taken.json()["detail"]
    blocked = ecm.post(f"/documents/{doc_id}/checkin", json={"content_b64": b64("v2")}, headers=bob)
    assert blocked.status_code == 409
    edit = ecm.patch(f"/documents/{doc_id}", json={"title": "Bob's title"}, headers=bob)
    assert edit.status_code == 409
    assert ecm.get(f"/documents/{doc_id}", headers=bob).json()["checked_out_by"] == "alice"
    ok = ecm.post(
        f"/documents/{doc_id}/checkin", json={"content_b64": b64("v2"), "comment": "fix"},
        headers=alice,
    )  # fmt: skip
    assert ok.status_code == 201 and ok.json()["version"] == 2
    assert ecm.get(f"/documents/{doc_id}", headers=bob).json()["checked_out_by"] is None
    # Now bob may check it out and in.
    assert ecm.post(f"/documents/{doc_id}/checkout", headers=bob).status_code == 200
    assert ecm.post(f"/documents/{doc_id}/checkin", json={"content_b64": b64("v3")},
                    headers=bob).status_code == 201  # fmt: skip
    versions = ecm.get(f"/documents/{doc_id}/versions", headers=alice).json()
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[1]["sha256"] == hashlib.sha256(b"v2").hexdigest()
    assert versions[2]["created_by"] == "bob"
    old = ecm.get(f"/documents/{doc_id}/content?version=2", headers=alice)
    assert old.content == b"v2"
    assert ecm.get(f"/documents/{doc_id}/content", headers=alice).content == b"v3"


def test_checkin_without_checkout_is_refused(ecm: TestClient, alice: dict[str, str]) -> None:
    doc = new_doc(ecm, alice)
    r = ecm.post(f"/documents/{doc['id']}/checkin", json={"content_b64": b64("x")}, headers=alice)
    assert r.status_code == 409
    assert len(ecm.get(f"/documents/{doc['id']}/versions", headers=alice).json()) == 1


def test_update_metadata_needs_write_right(
    ecm: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    doc = new_doc(ecm, alice)
    assert ecm.patch(f"/documents/{doc['id']}", json={"title": "x"}, headers=bob).status_code == 403
    r = ecm.patch(f"/documents/{doc['id']}", json={"title": "Revised", "classification": "LEG"},
                  headers=alice)  # fmt: skip
    assert r.status_code == 200 and r.json()["title"] == "Revised"
    assert r.json()["classification"] == "LEG"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "de"),
        ("classification", "NOPE"),
        ("date", "2024-13-45"),
        ("security_level", "secret"),
        ("symbol", "not a symbol"),
        ("content_b64", "!!!not base64"),
        ("title", ""),
        ("title", "nul\x00byte"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    ecm: TestClient, alice: dict[str, str], field: str, value: str
) -> None:
    before = ecm.get("/audit?action=create&limit=1000", headers=ADMIN).json()
    r = ecm.post(
        "/documents",
        json={"title": "t", "author": "a", "language": "en", "date": "2024-01-01",
              "classification": "HR", "content_b64": "", field: value},
        headers=alice,
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]
    assert ecm.get("/audit?action=create&limit=1000", headers=ADMIN).json() == before


def test_duplicate_symbol_is_a_conflict(ecm: TestClient, alice: dict[str, str]) -> None:
    symbol = f"S/RES/{next(_n) + 9000} (2016)"  # unique: other tests share the database
    new_doc(ecm, alice, symbol=symbol)
    r = ecm.post("/documents", json={"title": "t", "author": "a", "language": "en",
                 "date": "2024-01-01", "classification": "PS", "content_b64": "",
                 "symbol": symbol}, headers=alice)  # fmt: skip
    assert r.status_code == 409 and "symbol" in r.json()["detail"]


def test_every_route_but_health_needs_a_token(ecm: TestClient) -> None:
    assert ecm.get("/documents/1").status_code == 401
    assert ecm.get("/search?q=x", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert ecm.get("/healthz").status_code == 200
    assert ecm.get("/healthz").json()["site"] == "brindisi"
    assert ecm.get("/readyz").status_code == 200
    assert "drctl_app_http_requests_total" in ecm.get("/metrics").text


def test_a_missing_token_is_refused_before_input_is_looked_at(ecm: TestClient) -> None:
    assert ecm.get("/documents/not-a-number").status_code == 401
    assert ecm.post("/documents", json={"title": ""}).status_code == 401
    assert ecm.post("/api/probe/writes", json={}).status_code == 401
    assert ecm.get("/no/such/route").status_code == 404
