"""Problems and the incidents they explain: link, unlink, list (resolving a problem resolves
its open incidents, see operations.transition)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request

from apps.common.auth import session
from apps.common.errors import Conflict, Invalid
from apps.crm import access, itil, operations
from apps.crm.schemas import Link

ProblemNumber = Path(pattern=r"^PRB\d{7,18}$")
IncidentNumber = Path(pattern=r"^INC\d{7,18}$")


def router() -> APIRouter:
    api = APIRouter(tags=["problems"])

    @api.post("/problems/{number}/incidents", status_code=201)
    def link(body: Link, request: Request, number: str = ProblemNumber) -> dict[str, Any]:
        with session(request, *access.AGENTS) as (conn, user):
            problem = access.load(conn, user, number, for_update=True)
            if not itil.is_open(problem["status"]):
                raise Conflict(f"number: problem {number} is {problem['status']}")
            if not body.incident.startswith("INC"):
                raise Invalid("incident", f"{body.incident} is not an incident")
            incident = access.load(conn, user, body.incident, for_update=True)
            if incident["problem_id"] not in (None, problem["id"]):
                raise Conflict(
                    f"incident: {body.incident} is linked to {incident['problem_number']}"
                )
            conn.execute(
                "UPDATE tickets SET problem_id = %s, updated_at = now() WHERE id = %s",
                (problem["id"], incident["id"]),
            )
            operations.log(conn, problem["id"], user, "linked", body.incident)
            operations.log(conn, incident["id"], user, "linked", number)
        return {"problem": number, "incident": body.incident}

    @api.delete("/problems/{number}/incidents/{incident}")
    def unlink(
        request: Request, number: str = ProblemNumber, incident: str = IncidentNumber
    ) -> dict[str, Any]:
        with session(request, *access.AGENTS) as (conn, user):
            problem = access.load(conn, user, number, for_update=True)
            row = access.load(conn, user, incident, for_update=True)
            if row["problem_id"] != problem["id"]:
                raise Conflict(f"incident: {incident} is not linked to {number}")
            conn.execute("UPDATE tickets SET problem_id = NULL WHERE id = %s", (row["id"],))
            operations.log(conn, problem["id"], user, "unlinked", incident)
            operations.log(conn, row["id"], user, "unlinked", number)
        return {"problem": number, "incident": incident, "linked": False}

    @api.get("/problems/{number}/incidents")
    def incidents(request: Request, number: str = ProblemNumber) -> list[dict[str, Any]]:
        with session(request, *access.STAFF) as (conn, user):
            problem = access.load(conn, user, number)
            return conn.execute(
                """SELECT number, title, status, priority, desk_code AS desk FROM tickets
                    WHERE problem_id = %s ORDER BY id""",
                (problem["id"],),
            ).fetchall()

    return api
