"""Records management: declare a record under a retention schedule, legal holds, and
disposition once retention has ended. Disposition is refused (and the refusal audited) under
legal hold or before the retention date; it destroys the content but keeps the metadata and
the trail, which is what an auditor asks for afterwards.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from apps.common.auth import session
from apps.common.errors import CommittedRefusal, Conflict, Invalid, NotFound
from apps.ecm import access, audit
from apps.ecm.documents import DocId
from apps.ecm.schemas import Declare, LegalHold

MANAGER = "records_manager"


def router() -> APIRouter:
    api = APIRouter(tags=["records"])

    @api.post("/documents/{doc_id}/record", status_code=201)
    def declare(body: Declare, request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, MANAGER) as (conn, user):
            doc = access.load(conn, user, doc_id, "read", "declare_record", for_update=True)
            if doc["schedule"]:
                raise Conflict(f"document {doc_id} is already a record ({doc['schedule']})")
            if doc["locked_by"] is not None:
                raise Conflict(f"document {doc_id} is checked out by {doc['locked_by_name']}")
            schedule = conn.execute(
                "SELECT * FROM retention_schedules WHERE code = %s", (body.schedule,)
            ).fetchone()
            if schedule is None:
                raise Invalid("schedule", f"unknown retention schedule {body.schedule!r}")
            row = conn.execute(
                """INSERT INTO records (document_id, schedule, declared_by, retention_until)
                   VALUES (%s, %s, %s, now() + make_interval(days => %s)) RETURNING *""",
                (doc_id, body.schedule, user.id, schedule["retention_days"]),
            ).fetchone()
            assert row is not None
            audit.record(
                conn, user, "declare_record", doc_id,
                schedule=body.schedule, retention_until=row["retention_until"].isoformat(),
            )  # fmt: skip
        return _view(row)

    @api.get("/documents/{doc_id}/record")
    def show(request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, *access.READERS) as (conn, user):
            access.load(conn, user, doc_id, "read", "read_record")
            row = _record(conn, doc_id)
            audit.record(conn, user, "read_record", doc_id)
        return _view(row)

    @api.post("/documents/{doc_id}/legal-hold")
    def hold(body: LegalHold, request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, MANAGER) as (conn, user):
            access.load(conn, user, doc_id, "read", "legal_hold")
            row = _record(conn, doc_id, lock=True)
            if row["disposed_at"] is not None:
                raise Conflict(f"record {doc_id} was already disposed of")
            updated = conn.execute(
                """UPDATE records SET legal_hold = true, legal_hold_reason = %s
                    WHERE document_id = %s RETURNING *""",
                (body.reason, doc_id),
            ).fetchone()
            audit.record(conn, user, "legal_hold", doc_id, reason=body.reason)
        assert updated is not None
        return _view(updated)

    @api.delete("/documents/{doc_id}/legal-hold")
    def release(request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, MANAGER) as (conn, user):
            access.load(conn, user, doc_id, "read", "release_legal_hold")
            row = _record(conn, doc_id, lock=True)
            if not row["legal_hold"]:
                raise Conflict(f"record {doc_id} is not under legal hold")
            updated = conn.execute(
                """UPDATE records SET legal_hold = false, legal_hold_reason = NULL
                    WHERE document_id = %s RETURNING *""",
                (doc_id,),
            ).fetchone()
            audit.record(conn, user, "release_legal_hold", doc_id)
        assert updated is not None
        return _view(updated)

    @api.post("/documents/{doc_id}/disposition")
    def dispose(request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, MANAGER) as (conn, user):
            access.load(conn, user, doc_id, "read", "dispose")
            row = _record(conn, doc_id, lock=True)
            why = _refusal(row)
            if why is not None:
                audit.record(conn, user, "dispose", doc_id, "refused", reason=why)
                raise CommittedRefusal(409, f"disposition refused: {why}")
            action = conn.execute(
                "SELECT disposition_action FROM retention_schedules WHERE code = %s",
                (row["schedule"],),
            ).fetchone()
            assert action is not None
            conn.execute(
                "UPDATE document_versions SET content = NULL WHERE document_id = %s", (doc_id,)
            )
            conn.execute(
                "UPDATE documents SET content_text = '', updated_at = now() WHERE id = %s",
                (doc_id,),
            )
            updated = conn.execute(
                """UPDATE records SET disposed_at = now(), disposed_by = %s, disposition = %s
                    WHERE document_id = %s RETURNING *""",
                (user.id, action["disposition_action"], doc_id),
            ).fetchone()
            audit.record(conn, user, "dispose", doc_id, disposition=action["disposition_action"])
        assert updated is not None
        return _view(updated)

    return api


def _record(conn: Any, doc_id: int, lock: bool = False) -> dict[str, Any]:
    row: dict[str, Any] | None = conn.execute(
        "SELECT *, retention_until <= now() AS retention_ended FROM records WHERE document_id = %s"
        + (" FOR UPDATE" if lock else ""),
        (doc_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"document_id: document {doc_id} is not a declared record")
    return row


def _refusal(row: dict[str, Any]) -> str | None:
    if row["disposed_at"] is not None:
        return "already disposed of"
    if row["legal_hold"]:
        return f"record is under legal hold ({row['legal_hold_reason']})"
    if not row.get("retention_ended", False):
        return f"retention runs until {row['retention_until'].isoformat()}"
    return None


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "document_id": row["document_id"],
        "schedule": row["schedule"],
        "declared_at": row["declared_at"],
        "retention_until": row["retention_until"],
        "legal_hold": row["legal_hold"],
        "legal_hold_reason": row["legal_hold_reason"],
        "disposed_at": row["disposed_at"],
        "disposition": row["disposition"],
    }
