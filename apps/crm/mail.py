"""Email to ticket: the mail gateway posts each received message (RFC 5322 bytes); a new
conversation becomes an incident at the desk it was sent to, a reply threads onto its ticket.
Redelivery of the same Message-ID changes nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from apps.common.auth import Principal, request_token, session
from apps.common.db import Conn
from apps.common.errors import Invalid
from apps.crm import itil, operations
from apps.crm.mailparse import MAX_MESSAGE, Inbound, MailError, parse
from apps.crm.schemas import TicketIn

GATEWAY = ("mailer",)


def _thread(conn: Conn, msg: Inbound) -> tuple[dict[str, Any] | None, str | None]:
    """The ticket a message belongs to, and how it was recognised."""
    if msg.references:
        row = conn.execute(
            """SELECT t.*, array_position(%s::text[], e.message_id) AS pos
                 FROM email_messages e JOIN tickets t ON t.id = e.ticket_id
                WHERE e.message_id = ANY(%s) ORDER BY pos LIMIT 1""",
            (list(msg.references), list(msg.references)),
        ).fetchone()
        if row is not None:
            return row, "references"
    if msg.tag:
        row = conn.execute("SELECT * FROM tickets WHERE number = %s", (msg.tag,)).fetchone()
        if row is not None:
            return row, "subject"
    return None, None


def _desk(conn: Conn, msg: Inbound, site: str) -> str:
    if msg.recipients:
        row = conn.execute(
            """SELECT code FROM assignment_groups
                WHERE kind = 'service_desk' AND lower(email) = ANY(%s) ORDER BY code LIMIT 1""",
            ([r.lower() for r in msg.recipients],),
        ).fetchone()
        if row is not None:
            return str(row["code"])
    return operations.desk_for(conn, site)


def receive(conn: Conn, gateway: Principal, msg: Inbound, site: str) -> dict[str, Any]:
    seen = conn.execute(
        """SELECT t.number FROM email_messages e JOIN tickets t ON t.id = e.ticket_id
            WHERE e.message_id = %s""",
        (msg.message_id,),
    ).fetchone()
    if seen is not None:
        return {"ticket": seen["number"], "action": "duplicate", "matched_by": "message-id"}
    # Events name the person who wrote, the gateway stays the authenticated actor.
    sender = dataclasses.replace(gateway, username=f"{msg.sender} (email)", email=msg.sender)
    customer = operations.ensure_customer(conn, msg.sender, msg.sender_name)
    ticket, matched_by = _thread(conn, msg)
    action = "threaded"
    note = msg.body or "(empty message)"
    if ticket is not None and ticket["status"] in itil.FINAL:
        # A closed ticket stays closed: the reply opens a follow-up that points back.
        note = f"Follow-up of {ticket['number']}.\n\n{note}"
        ticket, action = None, "follow_up"
    if ticket is None:
        body = TicketIn(
            title=(bare_subject(msg) or "(no subject)")[:200],
            description=note,
            impact=3,
            urgency=2 if "urgent" in msg.subject.lower() else 3,
            customer_email=customer["email"],
            desk=_desk(conn, msg, site),
            channel="email",
        )
        ticket = operations.create(conn, sender, body, site)
        action = "created" if action != "follow_up" else action
    else:
        operations.log(conn, ticket["id"], sender, "email", note)
        from_customer = ticket["customer_id"] == customer["id"]
        if from_customer and ticket["status"] in itil.DONE:
            operations.reopen(conn, sender, ticket, "reopened by the customer's reply")
            action = "reopened"
        conn.execute("UPDATE tickets SET updated_at = now() WHERE id = %s", (ticket["id"],))
    conn.execute(
        """INSERT INTO email_messages (message_id, ticket_id, from_addr, subject)
           VALUES (%s, %s, %s, %s)""",
        (msg.message_id, ticket["id"], msg.sender, msg.subject),
    )
    return {
        "ticket": ticket["number"],
        "action": action,
        "matched_by": matched_by,
        "reply_subject": msg.reply_subject(ticket["number"]),
    }


def bare_subject(msg: Inbound) -> str:
    """The subject without reply prefixes: 'Re: Fwd: Printer' -> 'Printer'."""
    subject = msg.subject
    while subject[:4].lower() in ("re: ", "fw: ") or subject[:5].lower() == "fwd: ":
        subject = subject.split(":", 1)[1].strip()
    return subject


def router() -> APIRouter:
    api = APIRouter(tags=["email"])

    @api.post("/mail/inbound")
    async def inbound(request: Request) -> dict[str, Any]:
        request_token(request)  # 401 before reading anything
        raw = await request.body()
        if len(raw) > MAX_MESSAGE:
            raise Invalid("message", f"larger than {MAX_MESSAGE} bytes")
        try:
            msg = parse(raw)
        except MailError as exc:
            raise Invalid(exc.field, exc.message) from exc
        site = request.app.state.settings.site

        def work() -> dict[str, Any]:
            with session(request, *GATEWAY) as (conn, gateway):
                return receive(conn, gateway, msg, site)

        return await run_in_threadpool(work)

    return api
