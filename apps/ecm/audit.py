"""The audit trail: who did what to which document, and when; reads and refusals included."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from psycopg.types.json import Jsonb

from apps.common.auth import Principal, session
from apps.common.db import Conn


def record(
    conn: Conn,
    user: Principal,
    action: str,
    document_id: int | None,
    outcome: str = "ok",
    **details: Any,
) -> None:
    conn.execute(
        """INSERT INTO audit_events (actor_id, actor, action, document_id, outcome, details)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (user.id, user.username, action, document_id, outcome, Jsonb(details)),
    )


def router() -> APIRouter:
    api = APIRouter(tags=["audit"])

    @api.get("/audit")
    def trail(
        request: Request,
        document_id: int | None = Query(None, ge=1, le=2**63 - 1),
        actor: str | None = Query(None, max_length=100, pattern=r"^[^\x00]*$"),
        action: str | None = Query(None, max_length=100, pattern=r"^[^\x00]*$"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        with session(request, "auditor", "records_manager") as (conn, _):
            rows = conn.execute(
                """SELECT id, at, actor, action, document_id, outcome, details FROM audit_events
                    WHERE (%(doc)s::bigint IS NULL OR document_id = %(doc)s)
                      AND (%(actor)s::text IS NULL OR actor = %(actor)s)
                      AND (%(action)s::text IS NULL OR action = %(action)s)
                    ORDER BY id DESC LIMIT %(limit)s""",
                {"doc": document_id, "actor": actor, "action": action, "limit": limit},
            ).fetchall()
        return rows

    return api
