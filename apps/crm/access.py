"""Who may see and change which ticket. Agents and managers see every desk's tickets;
a customer (role `user`) sees only tickets logged for their own email address."""

from __future__ import annotations

from typing import Any

from apps.common.auth import Principal
from apps.common.db import Conn
from apps.common.errors import Forbidden, NotFound

AGENTS = ("agent",)
STAFF = ("agent", "manager")
PEOPLE = ("agent", "manager", "user")  # not the prober or the mail gateway

TICKET_SQL = """
SELECT t.*, c.email AS customer_email, c.name AS customer_name, u.username AS assignee_name,
       ci.name AS ci_name, p.number AS problem_number,
       coalesce(t.responded_at, t.closed_at, now()) > t.response_due AS response_breached,
       coalesce(t.resolved_at, t.closed_at, now()) > t.resolve_due AS resolve_breached
  FROM tickets t
  LEFT JOIN customers c ON c.id = t.customer_id
  LEFT JOIN users u ON u.id = t.assignee_id
  LEFT JOIN configuration_items ci ON ci.id = t.ci_id
  LEFT JOIN tickets p ON p.id = t.problem_id"""


def is_staff(user: Principal) -> bool:
    return user.has_any(*STAFF)


def can_see(row: dict[str, Any], user: Principal) -> bool:
    if is_staff(user):
        return True
    email = (user.email or "").lower()
    return bool(email) and (row["customer_email"] or "").lower() == email


def load(conn: Conn, user: Principal, number: str, for_update: bool = False) -> dict[str, Any]:
    row = conn.execute(
        TICKET_SQL + " WHERE t.number = %s" + (" FOR UPDATE OF t" if for_update else ""),
        (number,),
    ).fetchone()
    if row is None:
        raise NotFound(f"number: no ticket {number}")
    if not can_see(row, user):
        raise Forbidden(f"access denied: ticket {number} belongs to another customer")
    return row


def own_customer(conn: Conn, user: Principal) -> dict[str, Any] | None:
    if not user.email:
        return None
    row: dict[str, Any] | None = conn.execute(
        "SELECT * FROM customers WHERE lower(email) = lower(%s)", (user.email,)
    ).fetchone()
    return row
