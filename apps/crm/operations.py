"""What happens to a ticket, shared by the JSON API, the mail gateway and the self-service
pages: creation with priority and SLA due times, workflow moves, assignment, comments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apps.common.auth import Principal
from apps.common.db import Conn
from apps.common.errors import Conflict, Forbidden, Invalid
from apps.crm import access, itil
from apps.crm.schemas import Assignment, TicketIn, Transition

LOCAL_DESK = "SD-BRINDISI"  # when neither the customer's site nor ours has a desk


def log(
    conn: Conn,
    ticket_id: int,
    user: Principal,
    kind: str,
    note: str = "",
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    public: bool = True,
) -> None:
    conn.execute(
        """INSERT INTO ticket_events
             (ticket_id, actor_id, actor, kind, from_status, to_status, note, public)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (ticket_id, user.id, user.username, kind, from_status, to_status, note, public),
    )


def group(conn: Conn, code: str, field: str, desk_only: bool = False) -> dict[str, Any]:
    row: dict[str, Any] | None = conn.execute(
        "SELECT * FROM assignment_groups WHERE code = %s", (code,)
    ).fetchone()
    if row is None:
        raise Invalid(field, f"no assignment group {code!r}")
    if desk_only and row["kind"] != "service_desk":
        raise Invalid(field, f"{code!r} is not a service desk")
    return row


def desk_for(conn: Conn, *sites: str | None) -> str:
    for site in sites:
        if site:
            row = conn.execute(
                "SELECT code FROM assignment_groups WHERE site = %s AND kind = 'service_desk'",
                (site,),
            ).fetchone()
            if row:
                return str(row["code"])
    return LOCAL_DESK


def find_customer(conn: Conn, email: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "SELECT * FROM customers WHERE lower(email) = lower(%s)", (email,)
    ).fetchone()
    return row


def ensure_customer(conn: Conn, email: str, name: str) -> dict[str, Any]:
    row = conn.execute(
        """INSERT INTO customers (email, name) VALUES (%s, %s)
           ON CONFLICT ((lower(email))) DO UPDATE SET email = customers.email RETURNING *""",
        (email, name or email.split("@")[0]),
    ).fetchone()
    assert row is not None
    return row


def _customer(conn: Conn, user: Principal, body: TicketIn) -> dict[str, Any]:
    if access.is_staff(user) or "mailer" in user.roles:
        email = body.customer_email or user.email
        if not email:
            raise Invalid("customer_email", "required (your account has no email address)")
        found = find_customer(conn, email)
        if found is None and body.customer_email:
            raise Invalid("customer_email", f"no customer {email}; create it with POST /customers")
        return found or ensure_customer(conn, email, user.username)
    if body.customer_email and body.customer_email.lower() != (user.email or "").lower():
        raise Forbidden("customer_email: only agents may log tickets for someone else")
    if not user.email:
        raise Invalid("customer_email", "your account has no email address")
    return ensure_customer(conn, user.email, user.username)


def create(conn: Conn, user: Principal, body: TicketIn, site: str) -> dict[str, Any]:
    """Log a ticket; `site` is where this app runs (its desk takes unrouted tickets)."""
    staff = access.is_staff(user)
    if body.kind == "problem" and not staff:
        raise Forbidden("kind: only agents may log problems")
    if not staff and (body.reported_at is not None or body.group is not None):
        field = "reported_at" if body.reported_at is not None else "group"
        raise Forbidden(f"{field}: only agents may set it")
    customer = _customer(conn, user, body)
    desk = group(conn, body.desk, "desk", desk_only=True)["code"] if body.desk else None
    desk = desk or desk_for(conn, customer["site"], site)
    team = group(conn, body.group, "group")["code"] if body.group else desk
    if (
        body.ci is not None
        and not conn.execute(
            "SELECT 1 FROM configuration_items WHERE id = %s", (body.ci,)
        ).fetchone()
    ):
        raise Invalid("ci", f"no configuration item {body.ci}")
    reported = body.reported_at or dt.datetime.now(dt.UTC)
    prio = itil.priority(body.impact, body.urgency)
    timed = body.kind != "problem"  # problems are investigated, not held to a desk SLA
    row = conn.execute(
        """INSERT INTO tickets (kind, title, description, status, impact, urgency, priority,
               customer_id, desk_code, group_code, ci_id, channel, reported_at,
               response_due, resolve_due, created_by)
           SELECT %(kind)s, %(title)s, %(description)s, 'new', %(impact)s, %(urgency)s,
                  %(prio)s, %(customer)s, %(desk)s, %(group)s, %(ci)s, %(channel)s,
                  %(reported)s,
                  CASE WHEN %(timed)s
                       THEN %(reported)s + make_interval(mins => s.response_minutes) END,
                  CASE WHEN %(timed)s
                       THEN %(reported)s + make_interval(mins => s.resolve_minutes) END,
                  %(user)s
             FROM sla_targets s WHERE s.priority = %(prio)s
           RETURNING id, number""",
        {
            "kind": body.kind,
            "title": body.title,
            "description": body.description,
            "impact": body.impact,
            "urgency": body.urgency,
            "prio": prio,
            "customer": customer["id"],
            "desk": desk,
            "group": team,
            "ci": body.ci,
            "channel": body.channel,
            "reported": reported,
            "timed": timed,
            "user": user.id,
        },
    ).fetchone()
    assert row is not None, "sla_targets lacks a priority"
    log(conn, row["id"], user, "created", body.title, to_status="new")
    return access.load(conn, user, row["number"])


def update(conn: Conn, user: Principal, ticket: dict[str, Any], changes: dict[str, Any]) -> None:
    if (
        "ci" in changes
        and changes["ci"] is not None
        and not conn.execute(
            "SELECT 1 FROM configuration_items WHERE id = %s", (changes["ci"],)
        ).fetchone()
    ):
        raise Invalid("ci", f"no configuration item {changes['ci']}")
    for field in ("title", "description", "impact", "urgency"):
        if field in changes and changes[field] is None:
            raise Invalid(field, "must not be null")
    impact = changes.get("impact", ticket["impact"])
    urgency = changes.get("urgency", ticket["urgency"])
    prio = itil.priority(impact, urgency)
    conn.execute(
        """UPDATE tickets t SET title = %(title)s, description = %(description)s,
                  impact = %(impact)s, urgency = %(urgency)s, priority = %(prio)s,
                  ci_id = %(ci)s, updated_at = now(),
                  response_due = CASE WHEN t.response_due IS NULL THEN NULL
                      ELSE t.reported_at + make_interval(mins => s.response_minutes) END,
                  resolve_due = CASE WHEN t.resolve_due IS NULL THEN NULL
                      ELSE t.reported_at + make_interval(mins => s.resolve_minutes) END
             FROM sla_targets s WHERE s.priority = %(prio)s AND t.id = %(id)s""",
        {
            "title": changes.get("title", ticket["title"]),
            "description": changes.get("description", ticket["description"]),
            "impact": impact,
            "urgency": urgency,
            "prio": prio,
            "ci": changes.get("ci", ticket["ci_id"]),
            "id": ticket["id"],
        },
    )
    note = ", ".join(sorted(changes))
    if prio != ticket["priority"]:
        note += f"; priority {ticket['priority']} -> {prio}"
    log(conn, ticket["id"], user, "updated", note)


def transition(conn: Conn, user: Principal, ticket: dict[str, Any], body: Transition) -> None:
    current, wanted = ticket["status"], body.status
    why = itil.refusal(ticket["kind"], current, wanted)
    if why is not None:
        raise Conflict(why)
    staff = access.is_staff(user)
    if not staff and (current, wanted) not in itil.CUSTOMER_MOVES:
        raise Forbidden(f"status: only an agent may move a ticket from {current} to {wanted}")
    if wanted in itil.DONE and not (body.resolution or "").strip():
        raise Invalid("resolution", f"required to set status {wanted}")
    _move(conn, user, ticket, wanted, body.note, body.resolution)
    if ticket["kind"] == "problem" and wanted == "resolved":
        _resolve_linked(conn, user, ticket, body.resolution or "")


def _move(
    conn: Conn,
    user: Principal,
    ticket: dict[str, Any],
    wanted: str,
    note: str,
    resolution: str | None = None,
) -> None:
    staff = access.is_staff(user)
    conn.execute(
        """UPDATE tickets SET status = %(to)s, updated_at = now(),
               responded_at = CASE WHEN responded_at IS NULL AND %(staff)s AND %(from)s = 'new'
                                   THEN now() ELSE responded_at END,
               resolved_at = CASE WHEN %(done)s THEN now()
                                  WHEN %(to)s IN ('in_progress', 'investigating') THEN NULL
                                  ELSE resolved_at END,
               resolution = CASE WHEN %(done)s THEN %(resolution)s
                                 WHEN %(to)s IN ('in_progress', 'investigating') THEN NULL
                                 ELSE resolution END,
               closed_at = CASE WHEN %(final)s THEN now() ELSE closed_at END
         WHERE id = %(id)s""",
        {
            "to": wanted,
            "from": ticket["status"],
            "staff": staff,
            "done": wanted in itil.DONE,
            "final": wanted in itil.FINAL,
            "resolution": resolution,
            "id": ticket["id"],
        },
    )
    log(conn, ticket["id"], user, "status", note, from_status=ticket["status"], to_status=wanted)


def _resolve_linked(conn: Conn, user: Principal, problem: dict[str, Any], fix: str) -> None:
    """Resolving a problem resolves its linked incidents that may still be resolved."""
    rows = conn.execute(
        "SELECT * FROM tickets WHERE problem_id = %s AND kind = 'incident' FOR UPDATE",
        (problem["id"],),
    ).fetchall()
    note = f"resolved by problem {problem['number']}"
    for incident in rows:
        if incident["status"] == "new":  # never picked up: take it, then resolve it
            _move(conn, user, incident, "in_progress", note)
            incident = {**incident, "status": "in_progress"}
        if "resolved" in itil.allowed("incident", incident["status"]):
            _move(conn, user, incident, "resolved", note, fix or note)


def reopen(conn: Conn, user: Principal, ticket: dict[str, Any], note: str) -> None:
    """A customer's reply to finished work: back to work (the workflow's reopen move)."""
    target = "investigating" if ticket["kind"] == "problem" else "in_progress"
    _move(conn, user, ticket, target, note)


def assign(conn: Conn, user: Principal, ticket: dict[str, Any], body: Assignment) -> str:
    if not itil.is_open(ticket["status"]):
        raise Conflict(f"status: ticket {ticket['number']} is {ticket['status']}")
    team = group(conn, body.group, "group")
    assignee_id = None
    if body.assignee is not None:
        member = conn.execute(
            """SELECT u.id FROM users u JOIN group_members m ON m.user_id = u.id
                WHERE u.username = %s AND m.group_code = %s""",
            (body.assignee, team["code"]),
        ).fetchone()
        if member is None:
            raise Invalid("assignee", f"{body.assignee!r} is not a member of {team['code']}")
        assignee_id = member["id"]
    conn.execute(
        """UPDATE tickets SET group_code = %s, assignee_id = %s, updated_at = now(),
                  responded_at = coalesce(responded_at, now()) WHERE id = %s""",
        (team["code"], assignee_id, ticket["id"]),
    )
    who = f"{team['code']}" + (f" / {body.assignee}" if body.assignee else "")
    log(conn, ticket["id"], user, "assigned", who)
    if ticket["status"] == "new" and "assigned" in itil.allowed(ticket["kind"], "new"):
        _move(conn, user, ticket, "assigned", f"assigned to {who}")
    return who


def comment(
    conn: Conn, user: Principal, ticket: dict[str, Any], note: str, public: bool = True
) -> None:
    staff = access.is_staff(user)
    if not staff and not public:
        raise Forbidden("public: only agents may write internal notes")
    if staff and public:
        conn.execute(
            "UPDATE tickets SET responded_at = coalesce(responded_at, now()) WHERE id = %s",
            (ticket["id"],),
        )
    conn.execute("UPDATE tickets SET updated_at = now() WHERE id = %s", (ticket["id"],))
    log(conn, ticket["id"], user, "comment", note, public=public)


def view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": row["number"],
        "kind": row["kind"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "allowed_transitions": sorted(itil.allowed(row["kind"], row["status"])),
        "impact": row["impact"],
        "urgency": row["urgency"],
        "priority": row["priority"],
        "priority_name": itil.PRIORITY_NAMES[row["priority"]],
        "desk": row["desk_code"],
        "group": row["group_code"],
        "assignee": row["assignee_name"],
        "customer": {"email": row["customer_email"], "name": row["customer_name"]},
        "ci": row["ci_name"],
        "problem": row["problem_number"],
        "channel": row["channel"],
        "reported_at": row["reported_at"],
        "sla": {
            "response_due": row["response_due"],
            "resolve_due": row["resolve_due"],
            "response_breached": bool(row["response_breached"]),
            "resolve_breached": bool(row["resolve_breached"]),
        },
        "responded_at": row["responded_at"],
        "resolved_at": row["resolved_at"],
        "closed_at": row["closed_at"],
        "resolution": row["resolution"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
