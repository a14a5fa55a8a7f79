"""Property: whatever a caller sends to the main write endpoints of ECM and CRM, the answer is
never a 500; every 400/422 names a field ("field: message"), and every other refusal
(401, 403, 404, 409) says why.

Bodies are drawn field-aware: each known field is left out, given a plausible value, or given
any JSON value, and unknown keys are sometimes added; so inputs reach the checks behind
validation (taxonomy, workflow, grants) as well as validation itself.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from apps_testlib import b64, make_user
from crm_testlib import person, ticket
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.crm.selfservice import csrf_value

pytestmark = pytest.mark.postgres

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_n = itertools.count(1)
# "field: message"; the field may be dotted ("args.0.site") or an odd key quoted ('a: b')
NAMES_A_FIELD = re.compile(r"^(?:[\w.-]+|'.*'|\".*\")(?:\.(?:[\w-]+|'.*'|\".*\"))*: \S")

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(["", " ", "\x00", "1", "-1", "2024-02-30", "null", "a" * 300]),
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


def body(
    valid: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    """Mostly a valid body with a few changes (a field given a plausible or any JSON value, a
    field left out, an unknown key added), so inputs get past validation to the checks
    behind it; now and then any JSON value at all."""

    @st.composite
    def mutated(draw: st.DrawFn) -> dict[Any, Any]:
        out: dict[Any, Any] = dict(valid)
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.sampled_from(sorted(fields)))
            op = draw(st.sampled_from(["plausible", "plausible", "any", "drop", "extra"]))
            if op == "plausible":
                out[key] = draw(fields[key])
            elif op == "any":
                out[key] = draw(ANY_JSON)
            elif op == "drop":
                out.pop(key, None)
            else:
                out[draw(TEXT)] = draw(ANY_JSON)
        return out

    return st.integers(0, 9).flatmap(lambda n: mutated() if n else ANY_JSON)


def check(r: httpx.Response) -> None:
    assert r.status_code < 500, f"{r.status_code}: {r.text[:500]}"
    if r.status_code < 400:
        return
    assert r.status_code in (400, 401, 403, 404, 409, 413, 422), r.text[:500]
    if not r.headers.get("content-type", "").startswith("application/json"):
        # the self-service pages answer refusals with an HTML page carrying the detail
        assert r.headers["content-type"].startswith("text/html"), r.headers
        return
    answer = r.json()
    detail = answer.get("detail")
    assert isinstance(detail, str) and detail.strip(), r.text[:500]
    if r.status_code in (400, 413, 422):
        assert NAMES_A_FIELD.match(detail), f"no field named: {detail!r}"
        for err in answer.get("errors", []):  # request validation: one entry per field
            assert err["field"] and err["message"], r.text[:500]


def path_ids(*known: str) -> st.SearchStrategy[str]:
    """Mostly (7 in 10) an id that exists; else one that does not, or not an id at all."""
    other = st.one_of(
        st.integers(min_value=-(2**65), max_value=2**65).map(str),
        # one path segment: quoted, and never "." or ".." (the client would resolve those)
        st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), min_size=1)
        .filter(lambda s: s.strip(".") != "")
        .map(lambda s: quote(s, safe="")),
    )
    return st.integers(0, 9).flatmap(lambda n: st.sampled_from(known) if n < 7 else other)


# ---------------------------------------------------------------- ECM


DOCUMENT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "title": TEXT,
    "author": st.sampled_from(["OHCHR", "", " "]) | TEXT,
    "language": st.sampled_from(["en", "fr", "xx", "EN"]),
    "date": st.sampled_from(["2024-03-01", "2024-02-30", "0001-01-01", "9999-12-31", "today"]),
    "symbol": st.sampled_from(["A/HRC/55/12", "S/RES/2334 (2016)", "A", "/x/", None]),
    "classification": st.sampled_from(["HR", "ADM.HR", "NOPE", "hr", "A.B.C.D.E.F"]),
    "security_level": st.sampled_from(["public", "internal", "strictly_confidential", "x"]),
    "content_b64": st.one_of(st.binary(max_size=200).map(b64), TEXT),
    "media_type": st.sampled_from(["text/plain", "application/json", "image/png", "bad", ""]),
    "filename": st.sampled_from(["a.txt", "", "../etc/passwd", "a\x00b", "é.txt"]) | TEXT,
}
PATCH_FIELDS = {k: v for k, v in DOCUMENT_FIELDS.items() if k not in ("content_b64",)}
VALID_DOCUMENT = {
    "title": "Report of the Special Rapporteur",
    "author": "OHCHR",
    "language": "en",
    "date": "2024-03-01",
    "classification": "HR",
    "content_b64": b64("Freedom of expression."),
}
CHECKIN_FIELDS = {
    "content_b64": DOCUMENT_FIELDS["content_b64"],
    "media_type": DOCUMENT_FIELDS["media_type"],
    "filename": DOCUMENT_FIELDS["filename"],
    "comment": TEXT,
}


@pytest.fixture(scope="module")
def writer(ecm: TestClient) -> dict[str, str]:
    return make_user(ecm, f"fuzz-writer{next(_n)}", ["user", "records_manager"])


@pytest.fixture(scope="module")
def doc_id(ecm: TestClient, writer: dict[str, str]) -> str:
    r = ecm.post(
        "/documents",
        json={"title": "Fuzzed report", "author": "OHCHR", "language": "en",
              "date": "2024-03-01", "classification": "HR", "content_b64": b64("text")},
        headers=writer,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@FUZZ
@given(payload=body(VALID_DOCUMENT, DOCUMENT_FIELDS))
def test_ecm_document_create(ecm: TestClient, writer: dict[str, str], payload: Any) -> None:
    check(ecm.post("/documents", json=payload, headers=writer))


@FUZZ
@given(data=st.data(), payload=body({"title": "Renamed"}, PATCH_FIELDS))
def test_ecm_document_patch(
    ecm: TestClient, writer: dict[str, str], doc_id: str, data: st.DataObject, payload: Any
) -> None:
    target = data.draw(path_ids(doc_id))
    check(ecm.patch(f"/documents/{target}", json=payload, headers=writer))


@FUZZ
@given(
    data=st.data(),
    payload=body({"content_b64": b64("v2"), "comment": "edited"}, CHECKIN_FIELDS),
    steps=st.lists(st.booleans(), max_size=3),
)
def test_ecm_checkout_and_checkin(
    ecm: TestClient,
    writer: dict[str, str],
    doc_id: str,
    data: st.DataObject,
    payload: Any,
    steps: list[bool],
) -> None:
    target = data.draw(path_ids(doc_id))
    for checkout in steps:  # any order of check-outs and cancellations, then a check-in
        method = "POST" if checkout else "DELETE"
        check(ecm.request(method, f"/documents/{target}/checkout", headers=writer))
    check(ecm.post(f"/documents/{target}/checkin", json=payload, headers=writer))


@FUZZ
@given(
    data=st.data(),
    payload=body(
        {"schedule": "TRANSITORY"},
        {"schedule": st.sampled_from(["TRANSITORY", "PERMANENT", "NOPE", "transitory", ""])},
    ),
)
def test_ecm_declare_record(
    ecm: TestClient, writer: dict[str, str], data: st.DataObject, payload: Any
) -> None:
    # a fresh document each time, or declaring succeeds once and conflicts ever after
    fresh = ecm.post(
        "/documents",
        json={"title": f"Record {next(_n)}", "author": "OHCHR", "language": "en",
              "date": "2024-03-01", "classification": "HR", "content_b64": b64("r")},
        headers=writer,
    )  # fmt: skip
    target = data.draw(path_ids(str(fresh.json()["id"])))
    check(ecm.post(f"/documents/{target}/record", json=payload, headers=writer))


@FUZZ
@given(
    data=st.data(),
    payload=body(
        {"username": "admin", "access": "read"},
        {
            "username": st.sampled_from(["admin", "nobody", "", "ADMIN"]) | TEXT,
            "access": st.sampled_from(["read", "write", "none", "own"]),
        },
    ),
)
def test_ecm_grants(
    ecm: TestClient, writer: dict[str, str], doc_id: str, data: st.DataObject, payload: Any
) -> None:
    target = data.draw(path_ids(doc_id))
    check(ecm.put(f"/documents/{target}/grants", json=payload, headers=writer))


SEARCH_VALUES = st.one_of(
    TEXT,
    st.sampled_from(['"unterminated', "a & | ! b", "-", "<->", "HR", "fr", "0", "101", ":*"]),
    st.integers().map(str),
)


@FUZZ
@given(
    params=st.fixed_dictionaries(
        {"q": SEARCH_VALUES},
        optional={k: SEARCH_VALUES for k in ("lang", "language", "classification", "limit", "x")},
    )
)
def test_ecm_search(ecm: TestClient, writer: dict[str, str], params: dict[str, str]) -> None:
    check(ecm.get("/search", params=params, headers=writer))


# ---------------------------------------------------------------- CRM

TICKET_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "kind": st.sampled_from(["incident", "request", "problem", "x"]),
    "title": TEXT,
    "description": TEXT,
    "impact": st.integers(-1, 5),
    "urgency": st.integers(-1, 5),
    "customer_email": st.sampled_from(["a@un.org", "not-an-email", "", None]),
    "desk": st.sampled_from(["SD-NAIROBI", "DBA", "NOPE", "sd", None]),
    "group": st.sampled_from(["DBA", "SD-GENEVA", "NOPE", None]),
    "ci": st.integers(min_value=-1, max_value=2**64),
    "channel": st.sampled_from(["api", "email", "fax"]),
    "reported_at": st.sampled_from(
        ["2024-01-01T10:00:00+00:00", "2024-01-01T10:00:00", "3000-01-01T00:00:00Z", "now"]
    ),
}
STATUSES = st.sampled_from(
    ["new", "assigned", "in_progress", "pending", "resolved", "fulfilled", "closed",
     "cancelled", "reopened", "x"]
)  # fmt: skip


@pytest.fixture(scope="module")
def agent(crm: TestClient) -> dict[str, str]:
    return person(crm, "agent", ("SD-GENEVA", "DBA"))


@pytest.fixture(scope="module")
def number(crm: TestClient, agent: dict[str, str]) -> str:
    return str(ticket(crm, agent)["number"])


@FUZZ
@given(payload=body({"title": "Printer on fire", "impact": 2, "urgency": 2}, TICKET_FIELDS))
def test_crm_ticket_create(crm: TestClient, agent: dict[str, str], payload: Any) -> None:
    check(crm.post("/tickets", json=payload, headers=agent))


@FUZZ
@given(
    data=st.data(),
    payloads=st.lists(
        body(
            {"status": "in_progress"},
            {"status": STATUSES, "note": TEXT, "resolution": TEXT | st.none()},
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_crm_ticket_transition(
    crm: TestClient, agent: dict[str, str], number: str, data: st.DataObject, payloads: Any
) -> None:
    target = data.draw(path_ids(number, "INC0000000", "PRB9999999"))
    for payload in payloads:  # a walk through the workflow, legal moves or not
        check(crm.post(f"/tickets/{target}/transition", json=payload, headers=agent))


@FUZZ
@given(
    data=st.data(),
    payload=body(
        {"group": "DBA"},
        {
            "group": st.sampled_from(["DBA", "SD-GENEVA", "NOPE", "dba"]),
            "assignee": st.sampled_from(["admin", "nobody", "UPPER", ""]) | st.none(),
        },
    ),
)
def test_crm_ticket_assign(
    crm: TestClient, agent: dict[str, str], number: str, data: st.DataObject, payload: Any
) -> None:
    target = data.draw(path_ids(number))
    check(crm.post(f"/tickets/{target}/assign", json=payload, headers=agent))


@pytest.fixture(scope="module")
def mailer(crm: TestClient) -> dict[str, str]:
    return person(crm, "mailer")


VALID_MAIL = (
    b"From: Amina Diallo <amina.diallo@un.org>\r\nTo: servicedesk.nairobi@un.org\r\n"
    b"Subject: VPN drops\r\nDate: Tue, 14 Jan 2025 09:12:00 +0300\r\n"
    b"Message-ID: <fuzz@mail.example.org>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nSince this morning.\r\n"
)


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=400),
        st.tuples(st.integers(0, len(VALID_MAIL)), st.binary(max_size=20), st.integers(0, 20)).map(
            lambda t: VALID_MAIL[: t[0]] + t[1] + VALID_MAIL[t[0] + t[2] :]
        ),
    )
)
def test_crm_mail_inbound(crm: TestClient, mailer: dict[str, str], raw: bytes) -> None:
    # a unique Message-ID, so a surviving message is a new one rather than a redelivery
    raw = raw.replace(b"<fuzz@", f"<fuzz{next(_n)}@".encode())
    headers = {**mailer, "Content-Type": "message/rfc822"}
    check(crm.post("/mail/inbound", content=raw, headers=headers))


@pytest.fixture(scope="module")
def customer_token(crm: TestClient) -> str:
    headers = person(crm, "user")
    return headers["Authorization"].split()[1]


FORM_VALUE = st.one_of(TEXT, st.sampled_from(["", "incident", "request", "3", "0", "closed"]))


@FUZZ
@given(
    data=st.data(),
    form=st.dictionaries(
        st.sampled_from(["kind", "title", "description", "urgency", "note", "status", "x"]),
        FORM_VALUE,
        max_size=5,
    ),
    good_csrf=st.booleans(),
    action=st.sampled_from(["tickets", "comment", "status"]),
)
def test_crm_self_service_forms(
    crm: TestClient,
    customer_token: str,
    data: st.DataObject,
    form: dict[str, str],
    good_csrf: bool,
    action: str,
) -> None:
    form = {**form, "csrf": csrf_value(customer_token) if good_csrf else data.draw(TEXT)}
    if action == "tickets":
        path = "/self-service/tickets"
    else:
        own = ticket(crm, {"Authorization": f"Bearer {customer_token}"})["number"]
        path = f"/self-service/tickets/{data.draw(path_ids(own))}/{action}"
    crm.cookies.set("drctl_token", customer_token, path="/self-service")
    try:
        r = crm.post(path, data=form, follow_redirects=False)
    finally:
        crm.cookies.clear()
    check(r)
    if r.status_code in (400, 422):  # the page shows which field is wrong
        assert re.search(r"[\w.-]+: ", r.text), r.text[:500]


def test_check_itself_catches_a_500() -> None:
    """The harness: a 500, or a 422 naming no field, fails the property."""
    request = httpx.Request("GET", "http://test/")
    with pytest.raises(AssertionError):
        check(httpx.Response(500, json={"detail": "internal error"}, request=request))
    with pytest.raises(AssertionError):
        check(httpx.Response(422, json={"detail": "bad input"}, request=request))
    named = json.dumps({"detail": "title: too long"}).encode()
    check(httpx.Response(422, content=named, headers={"content-type": "application/json"}))
