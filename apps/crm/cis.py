"""Configuration items: what tickets are about (applications, databases, servers, ...)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request

from apps.common.auth import session
from apps.common.errors import Conflict, NotFound
from apps.common.types import BIGINT_MAX
from apps.crm import access, itil, operations
from apps.crm.schemas import CiIn

CiId = Path(ge=1, le=BIGINT_MAX)


def router() -> APIRouter:
    api = APIRouter(tags=["configuration items"])

    @api.post("/cis", status_code=201)
    def create(body: CiIn, request: Request) -> dict[str, Any]:
        with session(request, *access.STAFF) as (conn, _):
            if body.owner_group:
                operations.group(conn, body.owner_group, "owner_group")
            row = conn.execute(
                """INSERT INTO configuration_items
                       (name, ci_type, site, owner_group, status, description)
                   VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING *""",
                (body.name, body.ci_type, body.site, body.owner_group, body.status,
                 body.description),
            ).fetchone()  # fmt: skip
            if row is None:
                raise Conflict(f"name: configuration item {body.name!r} already exists")
        return dict(row)

    @api.get("/cis")
    def listing(
        request: Request,
        ci_type: str | None = Query(None, max_length=40, pattern=r"^[a-z]+$"),
        site: str | None = Query(None, max_length=40, pattern=r"^[a-z-]+$"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        with session(request, *access.STAFF) as (conn, _):
            return conn.execute(
                """SELECT * FROM configuration_items
                    WHERE (%(t)s::text IS NULL OR ci_type = %(t)s)
                      AND (%(s)s::text IS NULL OR site = %(s)s)
                    ORDER BY name LIMIT %(limit)s""",
                {"t": ci_type, "s": site, "limit": limit},
            ).fetchall()

    @api.get("/cis/{ci_id}")
    def read(request: Request, ci_id: int = CiId) -> dict[str, Any]:
        with session(request, *access.STAFF) as (conn, _):
            ci = conn.execute(
                "SELECT * FROM configuration_items WHERE id = %s", (ci_id,)
            ).fetchone()
            if ci is None:
                raise NotFound(f"ci_id: no configuration item {ci_id}")
            tickets = conn.execute(
                """SELECT number, kind, title, status, priority FROM tickets
                    WHERE ci_id = %s AND status <> ALL(%s) ORDER BY priority, id""",
                (ci_id, sorted(itil.NOT_OPEN)),
            ).fetchall()
        return {**ci, "open_tickets": tickets}

    return api
