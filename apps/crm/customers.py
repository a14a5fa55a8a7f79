"""Customers and their history across every site's desk."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request

from apps.common.auth import session
from apps.common.errors import Conflict, Forbidden, NotFound
from apps.common.types import BIGINT_MAX
from apps.crm import access, operations
from apps.crm.schemas import CustomerIn

CustomerId = Path(ge=1, le=BIGINT_MAX)


def router() -> APIRouter:
    api = APIRouter(tags=["customers"])

    @api.post("/customers", status_code=201)
    def create(body: CustomerIn, request: Request) -> dict[str, Any]:
        with session(request, *access.STAFF) as (conn, _):
            if operations.find_customer(conn, body.email):
                raise Conflict(f"email: customer {body.email} already exists")
            row = conn.execute(
                """INSERT INTO customers (email, name, organisation, site)
                   VALUES (%s, %s, %s, %s) RETURNING *""",
                (body.email, body.name, body.organisation, body.site),
            ).fetchone()
        return dict(row or {})

    @api.get("/customers")
    def find(
        request: Request,
        email: str | None = Query(None, max_length=255, pattern=r"^[^\x00]+$"),
        limit: int = Query(50, ge=1, le=500),
    ) -> list[dict[str, Any]]:
        with session(request, *access.STAFF) as (conn, _):
            return conn.execute(
                """SELECT * FROM customers
                    WHERE %(email)s::text IS NULL OR lower(email) = lower(%(email)s)
                    ORDER BY id LIMIT %(limit)s""",
                {"email": email, "limit": limit},
            ).fetchall()

    @api.get("/customers/{customer_id}/history")
    def history(request: Request, customer_id: int = CustomerId) -> dict[str, Any]:
        with session(request, *access.PEOPLE) as (conn, user):
            customer = conn.execute(
                "SELECT * FROM customers WHERE id = %s", (customer_id,)
            ).fetchone()
            if customer is None:
                raise NotFound(f"customer_id: no customer {customer_id}")
            mine = (user.email or "").lower() == customer["email"].lower()
            if not access.is_staff(user) and not mine:
                raise Forbidden("access denied: another customer's history")
            tickets = conn.execute(
                """SELECT t.number, t.kind, t.title, t.status, t.priority,
                          t.desk_code AS desk, g.site AS desk_site, t.group_code AS "group",
                          t.channel, t.reported_at, t.resolved_at, t.closed_at
                     FROM tickets t JOIN assignment_groups g ON g.code = t.desk_code
                    WHERE t.customer_id = %s ORDER BY t.reported_at DESC, t.id DESC""",
                (customer_id,),
            ).fetchall()
        desks = sorted({t["desk"] for t in tickets})
        return {"customer": customer, "desks": desks, "count": len(tickets), "tickets": tickets}

    return api
