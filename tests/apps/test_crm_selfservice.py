"""The self-service pages: sign in, see and log own tickets, comment, confirm or reopen;
another customer's ticket and forged forms are refused."""

from __future__ import annotations

import pytest
from apps_testlib import ADMIN
from crm_testlib import move, person, ticket
from fastapi.testclient import TestClient

from apps.common.auth import COOKIE
from apps.crm.selfservice import csrf_value

pytestmark = pytest.mark.postgres


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def browser(crm: TestClient) -> TestClient:
    """A second client on the same app, so cookies do not leak between tests."""
    return TestClient(crm.app, raise_server_exceptions=False)


def test_signed_out_visitors_get_the_sign_in_form(browser: TestClient) -> None:
    r = browser.get("/self-service")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'name="token"' in r.text
    bad = browser.post("/self-service/login", data={"token": "wrong"}, follow_redirects=False)
    assert bad.status_code == 401 and "Unknown or revoked token" in bad.text


def test_customer_signs_in_logs_comments_and_confirms(crm: TestClient, browser: TestClient) -> None:
    user = person(crm, "user")
    agent = person(crm, "agent")
    token = token_of(user)
    r = browser.post("/self-service/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303 and COOKIE in r.headers["set-cookie"]
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    page = browser.get("/self-service")
    assert "You have no tickets." in page.text and csrf_value(token) in page.text
    form = {
        "csrf": csrf_value(token),
        "kind": "request",
        "title": "Access to <b>SharePoint</b>",
        "description": "For the budget team",
        "urgency": "2",
    }
    created = browser.post("/self-service/tickets", data=form, follow_redirects=False)
    assert created.status_code == 303
    number = created.headers["location"].rsplit("/", 1)[1]
    assert number.startswith("REQ")
    detail = browser.get(f"/self-service/tickets/{number}")
    # Escaped, never rendered as markup.
    assert (
        "Access to &lt;b&gt;SharePoint&lt;/b&gt;" in detail.text
        and "<b>SharePoint" not in detail.text
    )
    t = crm.get(f"/tickets/{number}", headers=ADMIN).json()
    assert t["channel"] == "self-service" and t["urgency"] == 2
    assert t["customer"]["email"] == f"{user['X-Test-User']}@un.org"
    commented = browser.post(
        f"/self-service/tickets/{number}/comment",
        data={"csrf": csrf_value(token), "note": "Needed by Friday"},
        follow_redirects=False,
    )
    assert commented.status_code == 303
    assert "Needed by Friday" in browser.get(f"/self-service/tickets/{number}").text
    for status in ("approved", "in_progress"):
        assert move(crm, agent, number, status).status_code == 200
    assert move(crm, agent, number, "fulfilled", resolution="Granted").status_code == 200
    page = browser.get(f"/self-service/tickets/{number}").text
    assert "Confirm it is done" in page and "Granted" in page
    confirmed = browser.post(
        f"/self-service/tickets/{number}/status",
        data={"csrf": csrf_value(token), "status": "closed"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert crm.get(f"/tickets/{number}", headers=ADMIN).json()["status"] == "closed"
    assert number in browser.get("/self-service").text


def test_forged_forms_other_tickets_and_illegal_moves_are_refused(
    crm: TestClient, browser: TestClient
) -> None:
    user = person(crm, "user")
    other = person(crm, "user")
    mine = ticket(crm, user)["number"]
    theirs = ticket(crm, other)["number"]
    token = token_of(user)
    browser.post("/self-service/login", data={"token": token})
    forged = browser.post(
        f"/self-service/tickets/{mine}/comment", data={"csrf": "0" * 32, "note": "hi"}
    )
    assert forged.status_code == 403 and "csrf" in forged.text
    assert browser.get(f"/self-service/tickets/{theirs}").status_code == 403
    # An agent's move from the customer's page is still refused, in HTML.
    r = browser.post(
        f"/self-service/tickets/{mine}/status",
        data={"csrf": csrf_value(token), "status": "resolved"},
    )
    assert r.status_code == 409 and "text/html" in r.headers["content-type"]
    empty = browser.post("/self-service/tickets", data={"csrf": csrf_value(token), "title": " "})
    assert empty.status_code == 422 and "title" in empty.text
    assert browser.get("/self-service/tickets/nope").status_code == 422


def test_bearer_token_works_without_the_cookie(crm: TestClient, browser: TestClient) -> None:
    user = person(crm, "user")
    number = ticket(crm, user, title="Keyboard missing keys")["number"]
    page = browser.get("/self-service", headers=user)
    assert page.status_code == 200 and "Keyboard missing keys" in page.text
    out = browser.post("/self-service/logout", follow_redirects=False)
    assert out.status_code == 303
    assert browser.get(f"/self-service/tickets/{number}", headers=user).status_code == 200
