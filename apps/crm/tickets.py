"""The ticket API: log, read, list, search, change, move through the workflow, assign,
comment, and the ticket's history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request

from apps.common.auth import session
from apps.common.errors import Invalid
from apps.crm import access, itil, operations
from apps.crm.itil import Kind, Status
from apps.crm.schemas import Assignment, Comment, TicketIn, TicketPatch, Transition

TicketNumber = Path(pattern=itil.NUMBER.pattern)
LIST_SQL = (
    access.TICKET_SQL
    + """
 WHERE (%(staff)s OR lower(c.email) = lower(%(email)s))
   AND (%(status)s::text IS NULL OR t.status = %(status)s)
   AND (%(kind)s::text IS NULL OR t.kind = %(kind)s)
   AND (%(desk)s::text IS NULL OR t.desk_code = %(desk)s)
   AND (%(priority)s::int IS NULL OR t.priority = %(priority)s)
   AND (NOT %(open)s OR t.status <> ALL(%(not_open)s))"""
)


def router() -> APIRouter:
    api = APIRouter(tags=["tickets"])

    @api.post("/tickets", status_code=201)
    def create(body: TicketIn, request: Request) -> dict[str, Any]:
        site = request.app.state.settings.site
        with session(request, *access.PEOPLE) as (conn, user):
            row = operations.create(conn, user, body, site)
        return operations.view(row)

    @api.get("/tickets")
    def listing(
        request: Request,
        status: Status | None = None,
        kind: Kind | None = None,
        desk: str | None = Query(None, pattern=r"^[A-Z][A-Z0-9-]{1,39}$"),
        priority: int | None = Query(None, ge=1, le=5),
        open: bool = False,
        limit: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        with session(request, *access.PEOPLE) as (conn, user):
            rows = conn.execute(
                LIST_SQL + " ORDER BY t.priority, t.reported_at DESC LIMIT %(limit)s",
                {
                    "staff": access.is_staff(user),
                    "email": user.email or "",
                    "status": status,
                    "kind": kind,
                    "desk": desk,
                    "priority": priority,
                    "open": open,
                    "not_open": sorted(itil.NOT_OPEN),
                    "limit": limit,
                },
            ).fetchall()
        return {"count": len(rows), "tickets": [operations.view(r) for r in rows]}

    @api.get("/tickets/search")
    def search(
        request: Request,
        q: str = Query(min_length=1, max_length=500, pattern=r"^[^\x00]+$"),
        limit: int = Query(20, ge=1, le=100),
    ) -> dict[str, Any]:
        with session(request, *access.PEOPLE) as (conn, user):
            if itil.NUMBER.match(q.strip()):
                where, params = "t.number = %(q)s", {"q": q.strip()}
            else:
                where = """t.search_vector @@ (websearch_to_tsquery('english', %(q)s)
                                              || websearch_to_tsquery('simple', %(q)s))"""
                params = {"q": q}
            rows = conn.execute(
                f"""SELECT t.number, t.kind, t.title, t.status, t.priority, t.desk_code AS desk,
                           t.reported_at, c.email AS customer_email,
                           ts_rank(t.search_vector, websearch_to_tsquery('english', %(q)s))
                             AS rank
                      FROM tickets t LEFT JOIN customers c ON c.id = t.customer_id
                     WHERE {where} AND (%(staff)s OR lower(c.email) = lower(%(email)s))
                     ORDER BY rank DESC, t.reported_at DESC LIMIT %(limit)s""",
                {
                    **params,
                    "staff": access.is_staff(user),
                    "email": user.email or "",
                    "limit": limit,
                },
            ).fetchall()
        return {"q": q, "count": len(rows), "hits": rows}

    @api.get("/tickets/{number}")
    def read(request: Request, number: str = TicketNumber) -> dict[str, Any]:
        with session(request, *access.PEOPLE) as (conn, user):
            row = access.load(conn, user, number)
        return operations.view(row)

    @api.patch("/tickets/{number}")
    def update(body: TicketPatch, request: Request, number: str = TicketNumber) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise Invalid("body", "no field to change")
        with session(request, *access.AGENTS) as (conn, user):
            row = access.load(conn, user, number, for_update=True)
            operations.update(conn, user, row, changes)
            row = access.load(conn, user, number)
        return operations.view(row)

    @api.post("/tickets/{number}/transition")
    def move(body: Transition, request: Request, number: str = TicketNumber) -> dict[str, Any]:
        with session(request, *access.PEOPLE) as (conn, user):
            row = access.load(conn, user, number, for_update=True)
            operations.transition(conn, user, row, body)
            row = access.load(conn, user, number)
        return operations.view(row)

    @api.post("/tickets/{number}/assign")
    def assign(body: Assignment, request: Request, number: str = TicketNumber) -> dict[str, Any]:
        with session(request, *access.AGENTS) as (conn, user):
            row = access.load(conn, user, number, for_update=True)
            operations.assign(conn, user, row, body)
            row = access.load(conn, user, number)
        return operations.view(row)

    @api.post("/tickets/{number}/comments", status_code=201)
    def comment(body: Comment, request: Request, number: str = TicketNumber) -> dict[str, Any]:
        with session(request, *access.PEOPLE) as (conn, user):
            row = access.load(conn, user, number, for_update=True)
            operations.comment(conn, user, row, body.note, body.public)
        return {"number": number, "note": body.note, "public": body.public}

    @api.get("/tickets/{number}/events")
    def events(request: Request, number: str = TicketNumber) -> list[dict[str, Any]]:
        with session(request, *access.PEOPLE) as (conn, user):
            row = access.load(conn, user, number)
            return conn.execute(
                """SELECT at, actor, kind, from_status, to_status, note, public
                     FROM ticket_events WHERE ticket_id = %s AND (public OR %s) ORDER BY id""",
                (row["id"], access.is_staff(user)),
            ).fetchall()

    @api.get("/priority-matrix")
    def matrix(request: Request) -> dict[str, Any]:
        with session(request, *access.PEOPLE) as (conn, _):
            targets = conn.execute("SELECT * FROM sla_targets ORDER BY priority").fetchall()
        return {
            "impact_x_urgency": [
                {"impact": i, "urgency": u, "priority": p}
                for (i, u), p in sorted(itil.PRIORITY_MATRIX.items())
            ],
            "sla_targets": targets,
        }

    return api
