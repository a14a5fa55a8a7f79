"""Assignment groups: one service desk per site plus resolver groups, and their members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request

from apps.common.auth import session
from apps.common.errors import Conflict, Invalid
from apps.crm import access, operations
from apps.crm.schemas import Member

GroupPath = Path(pattern=r"^[A-Z][A-Z0-9-]{1,39}$")


def router() -> APIRouter:
    api = APIRouter(tags=["desks"])

    @api.get("/groups")
    def groups(request: Request) -> list[dict[str, Any]]:
        with session(request, *access.PEOPLE) as (conn, _):
            return conn.execute(
                """SELECT g.code, g.name, g.site, g.kind, g.email,
                          coalesce(array_agg(u.username ORDER BY u.username)
                                   FILTER (WHERE u.id IS NOT NULL), '{}') AS members
                     FROM assignment_groups g
                     LEFT JOIN group_members m ON m.group_code = g.code
                     LEFT JOIN users u ON u.id = m.user_id
                    GROUP BY g.code ORDER BY g.kind, g.code"""
            ).fetchall()

    @api.post("/groups/{code}/members", status_code=201)
    def add_member(body: Member, request: Request, code: str = GroupPath) -> dict[str, Any]:
        with session(request, "manager") as (conn, _):
            operations.group(conn, code, "code")
            user = conn.execute(
                """SELECT u.id FROM users u JOIN user_roles r ON r.user_id = u.id
                    WHERE u.username = %s AND r.role IN ('agent', 'manager')""",
                (body.username,),
            ).fetchone()
            if user is None:
                raise Invalid("username", f"{body.username!r} is not an agent")
            added = conn.execute(
                """INSERT INTO group_members (group_code, user_id) VALUES (%s, %s)
                   ON CONFLICT DO NOTHING RETURNING user_id""",
                (code, user["id"]),
            ).fetchone()
            if added is None:
                raise Conflict(f"username: {body.username} is already in {code}")
        return {"group": code, "username": body.username}

    return api
