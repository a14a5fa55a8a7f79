"""Email to ticket: RFC 5322 messages become incidents at the desk they were sent to; replies
thread by In-Reply-To/References or by the [#ticket] subject tag; redelivery is harmless."""

from __future__ import annotations

import itertools

import pytest
from apps_testlib import ADMIN
from crm_testlib import move, person
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.crm.mailparse import MailError, parse, strip_quoted

pytestmark = pytest.mark.postgres
_n = itertools.count(1)


def mail(
    sender: str = "Amina Diallo <amina.diallo@un.org>",
    to: str = "servicedesk.nairobi@un.org",
    subject: str = "VPN drops every ten minutes",
    body: str = "Since this morning the VPN disconnects.\n",
    msg_id: str | None = None,
    extra: str = "",
) -> tuple[bytes, str]:
    msg_id = msg_id or f"m{next(_n)}.{id(body)}@mail.example.org"
    raw = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Tue, 14 Jan 2025 09:12:00 +0300\r\nMessage-ID: <{msg_id}>\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
    return raw.encode(), msg_id


@pytest.fixture(scope="module")
def gateway(crm: TestClient) -> dict[str, str]:
    return person(crm, "mailer")


@pytest.fixture(scope="module")
def agent(crm: TestClient) -> dict[str, str]:
    return person(crm, "agent")


def post(crm: TestClient, gateway: dict[str, str], raw: bytes) -> dict[str, str]:
    r = crm.post(
        "/mail/inbound", content=raw, headers={**gateway, "Content-Type": "message/rfc822"}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def events(crm: TestClient, number: str) -> list[dict[str, str]]:
    return list(crm.get(f"/tickets/{number}/events", headers=ADMIN).json())


def test_new_message_becomes_an_incident_at_the_addressed_desk(
    crm: TestClient, gateway: dict[str, str]
) -> None:
    raw, _ = mail(subject="URGENT: VPN drops every ten minutes")
    got = post(crm, gateway, raw)
    assert got["action"] == "created" and got["matched_by"] is None
    t = crm.get(f"/tickets/{got['ticket']}", headers=ADMIN).json()
    assert t["desk"] == "SD-NAIROBI" and t["channel"] == "email"
    assert t["title"] == "URGENT: VPN drops every ten minutes" and t["urgency"] == 2
    assert t["customer"] == {"email": "amina.diallo@un.org", "name": "Amina Diallo"}
    assert "VPN disconnects" in t["description"]
    assert got["reply_subject"] == f"[#{t['number']}] URGENT: VPN drops every ten minutes"


def test_reply_threads_by_in_reply_to_and_keeps_only_the_new_text(
    crm: TestClient, gateway: dict[str, str]
) -> None:
    raw, first = mail()
    number = post(crm, gateway, raw)["ticket"]
    reply, _ = mail(
        subject="Re: something else entirely",
        extra=f"In-Reply-To: <{first}>\r\n",
        body="It happened again at 10:05.\n\nOn Tue, desk wrote:\n> old text\n",
    )
    got = post(crm, gateway, reply)
    assert got == {**got, "ticket": number, "action": "threaded", "matched_by": "references"}
    notes = [e["note"] for e in events(crm, number) if e["kind"] == "email"]
    assert notes == ["It happened again at 10:05."]


def test_reply_threads_by_references_chain(crm: TestClient, gateway: dict[str, str]) -> None:
    raw, first = mail()
    number = post(crm, gateway, raw)["ticket"]
    second, second_id = mail(extra=f"In-Reply-To: <{first}>\r\n")
    post(crm, gateway, second)
    third, _ = mail(extra=f"References: <unknown@x> <{first}> <{second_id}>\r\n")
    assert post(crm, gateway, third)["ticket"] == number


def test_reply_threads_by_ticket_tag_in_subject(crm: TestClient, gateway: dict[str, str]) -> None:
    raw, _ = mail()
    number = post(crm, gateway, raw)["ticket"]
    tagged, _ = mail(
        subject=f"RE: [#{number}] VPN drops every ten minutes", sender="colleague@un.org"
    )
    got = post(crm, gateway, tagged)
    assert got["ticket"] == number and got["matched_by"] == "subject"
    assert any(e["actor"].startswith("colleague@un.org") for e in events(crm, number))


def test_redelivery_of_the_same_message_changes_nothing(
    crm: TestClient, gateway: dict[str, str]
) -> None:
    raw, _ = mail()
    first = post(crm, gateway, raw)
    before = events(crm, first["ticket"])
    again = post(crm, gateway, raw)
    assert again["ticket"] == first["ticket"] and again["action"] == "duplicate"
    assert events(crm, first["ticket"]) == before


def test_customer_reply_reopens_resolved_and_follows_up_closed(
    crm: TestClient, gateway: dict[str, str], agent: dict[str, str]
) -> None:
    raw, first = mail(sender="kofi@un.org")
    n = post(crm, gateway, raw)["ticket"]
    for status in ("in_progress", "resolved"):
        assert move(crm, agent, n, status, resolution="Reset VPN profile").status_code == 200
    reply, second = mail(sender="kofi@un.org", extra=f"In-Reply-To: <{first}>\r\n")
    assert post(crm, gateway, reply)["action"] == "reopened"
    assert crm.get(f"/tickets/{n}", headers=agent).json()["status"] == "in_progress"
    for status in ("resolved", "closed"):
        assert move(crm, agent, n, status, resolution="Replaced token").status_code == 200
    late, _ = mail(sender="kofi@un.org", extra=f"In-Reply-To: <{second}>\r\n")
    got = post(crm, gateway, late)
    assert got["action"] == "follow_up" and got["ticket"] != n
    follow = crm.get(f"/tickets/{got['ticket']}", headers=agent).json()
    assert follow["description"].startswith(f"Follow-up of {n}.")
    assert crm.get(f"/tickets/{n}", headers=agent).json()["status"] == "closed"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "message"),
        (b"Subject: no sender\r\n\r\nhello", "from"),
        (b"From: not an address\r\nSubject: x\r\n\r\nhello", "from"),
    ],
)
def test_bad_messages_are_refused_naming_the_field(
    crm: TestClient, gateway: dict[str, str], raw: bytes, field: str
) -> None:
    before = crm.get("/reports/open-by-priority-and-desk", headers=ADMIN).json()["total"]
    r = crm.post("/mail/inbound", content=raw, headers=gateway)
    assert r.status_code == 422 and r.json()["detail"].startswith(f"{field}:")
    assert crm.get("/reports/open-by-priority-and-desk", headers=ADMIN).json()["total"] == before


def test_only_the_mail_gateway_may_post_mail(crm: TestClient, agent: dict[str, str]) -> None:
    raw, _ = mail()
    assert crm.post("/mail/inbound", content=raw).status_code == 401
    assert crm.post("/mail/inbound", content=raw, headers=agent).status_code == 403


def test_html_only_and_encoded_messages() -> None:
    raw = (
        b"From: =?utf-8?q?Jos=C3=A9_P=C3=A9rez?= <jose@un.org>\r\n"
        b"Subject: =?utf-8?q?Impresora_atascada?=\r\nMessage-ID: <h1@x>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>La impresora &amp; el esc&aacute;ner</p>"
    )
    msg = parse(raw)
    assert msg.sender_name == "José Pérez" and msg.subject == "Impresora atascada"
    assert msg.body == "La impresora & el escáner"


def test_strip_quoted_keeps_the_new_text() -> None:
    assert strip_quoted("New\r\n> old\r\nmore\r\n-----Original Message-----\r\nold") == "New\nmore"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_fail_with_a_named_field(raw: bytes) -> None:
    try:
        msg = parse(raw)
    except MailError as exc:
        assert exc.field in ("message", "from")
    else:
        assert "@" in msg.sender and "\x00" not in msg.body
