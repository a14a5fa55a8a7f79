"""Reports for desk managers: open tickets by priority and desk, and SLA breaches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from apps.common.auth import session
from apps.crm import access, itil

DeskFilter = Query(None, pattern=r"^[A-Z][A-Z0-9-]{1,39}$")

# A target is breached when the work happened (or has still not happened) after its due time.
BREACHES_SQL = """
WITH judged AS (
  SELECT t.*, coalesce(t.responded_at, t.closed_at, now()) > t.response_due AS response_late,
         coalesce(t.resolved_at, t.closed_at, now()) > t.resolve_due AS resolve_late
    FROM tickets t
   WHERE t.resolve_due IS NOT NULL AND t.status NOT IN ('cancelled', 'rejected')
     AND (%(desk)s::text IS NULL OR t.desk_code = %(desk)s)
     AND (NOT %(open)s OR t.status <> ALL(%(not_open)s)))
SELECT number, kind, title, status, priority, desk_code AS desk, group_code AS "group",
       reported_at, response_due, resolve_due, response_late AS response_breached,
       resolve_late AS resolve_breached,
       round(extract(epoch FROM coalesce(resolved_at, closed_at, now()) - resolve_due) / 60)::bigint
         AS resolve_overdue_minutes
  FROM judged WHERE response_late OR resolve_late
 ORDER BY priority, resolve_due LIMIT %(limit)s"""


def router() -> APIRouter:
    api = APIRouter(prefix="/reports", tags=["reports"])

    @api.get("/open-by-priority-and-desk")
    def open_tickets(request: Request) -> dict[str, Any]:
        with session(request, *access.STAFF) as (conn, _):
            rows = conn.execute(
                """SELECT desk_code AS desk, priority, count(*) AS count FROM tickets
                    WHERE status <> ALL(%s) GROUP BY desk_code, priority
                    ORDER BY desk_code, priority""",
                (sorted(itil.NOT_OPEN),),
            ).fetchall()
        matrix: dict[str, dict[str, int]] = {}
        for row in rows:
            matrix.setdefault(row["desk"], {str(p): 0 for p in range(1, 6)})
            matrix[row["desk"]][str(row["priority"])] = row["count"]
        return {"total": sum(r["count"] for r in rows), "rows": rows, "by_desk": matrix}

    @api.get("/sla-breaches")
    def breaches(
        request: Request,
        desk: str | None = DeskFilter,
        open: bool = False,
        limit: int = Query(200, ge=1, le=5000),
    ) -> dict[str, Any]:
        params = {"desk": desk, "open": open, "not_open": sorted(itil.NOT_OPEN), "limit": limit}
        with session(request, *access.STAFF) as (conn, _):
            summary = conn.execute(
                f"""SELECT desk, count(*) AS breached,
                           count(*) FILTER (WHERE response_breached) AS response,
                           count(*) FILTER (WHERE resolve_breached) AS resolve
                      FROM ({BREACHES_SQL.replace("LIMIT %(limit)s", "")}) b
                     GROUP BY desk ORDER BY desk""",
                params,
            ).fetchall()
            tickets = conn.execute(BREACHES_SQL, params).fetchall()
        return {"by_desk": summary, "count": len(tickets), "tickets": tickets}

    return api
