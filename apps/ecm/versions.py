"""Content and versions: cacheable downloads, version history, check-out and check-in.

Downloads carry ETag = SHA-256. Public documents are `Cache-Control: public` with
stale-while-revalidate / stale-if-error, so the regional hub caches (nginx honours both) keep
serving them while the origin fails over. The hubs key their cache on the URL alone and serve
hits without asking the origin, so anything not public is marked private: internal documents
may be kept (and revalidated by ETag) by the user's own client only, confidential ones not at
all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from apps.common.auth import session
from apps.common.errors import Conflict, NotFound
from apps.ecm import access, audit
from apps.ecm.documents import DocId, add_version, ensure_editable
from apps.ecm.schemas import CONFIDENTIAL, CheckIn

PUBLIC_MAX_AGE = 300
STALE_WHILE_REVALIDATE = 60
STALE_IF_ERROR = 7 * 86400


def etag_matches(header: str | None, sha256: str) -> bool:
    """RFC 9110 weak comparison against an If-None-Match list (or `*`)."""
    if not header:
        return False
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == f'"{sha256}"':
            return True
    return False


def cache_control(security_level: str) -> str:
    if security_level == "public":
        return (
            f"public, max-age={PUBLIC_MAX_AGE}, stale-while-revalidate={STALE_WHILE_REVALIDATE}"
            f", stale-if-error={STALE_IF_ERROR}"
        )
    if security_level in CONFIDENTIAL:
        return "private, no-store"
    return "private, no-cache"


def router() -> APIRouter:
    api = APIRouter(tags=["versions"])

    @api.get("/documents/{doc_id}/content")
    def content(
        request: Request,
        doc_id: int = DocId,
        version: int | None = Query(None, ge=1, le=2**31 - 1),
    ) -> Response:
        with session(request, *access.READERS) as (conn, user):
            doc = access.load(conn, user, doc_id, "read", "read_content")
            wanted = version or doc["current_version"]
            row = conn.execute(
                """SELECT version, sha256, media_type, filename, content IS NULL AS gone
                     FROM document_versions WHERE document_id = %s AND version = %s""",
                (doc_id, wanted),
            ).fetchone()
            if row is None:
                raise NotFound(f"version: document {doc_id} has no version {wanted}")
            if row["gone"]:
                audit.record(conn, user, "read_content", doc_id, "gone", version=wanted)
                gone = True
            else:
                gone = False
                fresh = etag_matches(request.headers.get("if-none-match"), row["sha256"])
                data = b"" if fresh else _bytes(conn, doc_id, wanted)
                audit.record(conn, user, "read_content", doc_id, version=wanted, not_modified=fresh)
        if gone:
            return Response(status_code=410, content=b'{"detail":"content disposed"}',
                            media_type="application/json")  # fmt: skip
        headers = {
            "ETag": f'"{row["sha256"]}"',
            "X-Document-Version": str(wanted),
            "Cache-Control": cache_control(doc["security_level"]),
        }
        if fresh:
            return Response(status_code=304, headers=headers)
        if row["filename"]:
            headers["Content-Disposition"] = _disposition(row["filename"])
        return Response(content=data, media_type=row["media_type"], headers=headers)

    @api.get("/documents/{doc_id}/versions")
    def versions(request: Request, doc_id: int = DocId) -> list[dict[str, Any]]:
        with session(request, *access.READERS) as (conn, user):
            access.load(conn, user, doc_id, "read", "read_versions")
            rows = conn.execute(
                """SELECT v.version, v.sha256, v.size, v.media_type, v.filename, v.comment,
                          v.created_at, u.username AS created_by, v.content IS NULL AS disposed
                     FROM document_versions v LEFT JOIN users u ON u.id = v.created_by
                    WHERE v.document_id = %s ORDER BY v.version""",
                (doc_id,),
            ).fetchall()
            audit.record(conn, user, "read_versions", doc_id)
        return rows

    @api.post("/documents/{doc_id}/checkout")
    def checkout(request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, *access.CONTRIBUTORS) as (conn, user):
            doc = access.load(conn, user, doc_id, "write", "checkout", for_update=True)
            ensure_editable(doc, user)
            if doc["locked_by"] == user.id:
                raise Conflict(f"document {doc_id} is already checked out by you")
            row = conn.execute(
                """UPDATE documents SET locked_by = %s, locked_at = now() WHERE id = %s
                   RETURNING locked_at""",
                (user.id, doc_id),
            ).fetchone()
            assert row is not None
            audit.record(conn, user, "checkout", doc_id)
        return {"document_id": doc_id, "checked_out_by": user.username, "at": row["locked_at"]}

    @api.delete("/documents/{doc_id}/checkout")
    def cancel_checkout(request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, *access.CONTRIBUTORS) as (conn, user):
            doc = access.load(conn, user, doc_id, "write", "cancel_checkout", for_update=True)
            if doc["locked_by"] is None:
                raise Conflict(f"document {doc_id} is not checked out")
            if doc["locked_by"] != user.id and "admin" not in user.roles:
                raise Conflict(f"document {doc_id} is checked out by {doc['locked_by_name']}")
            conn.execute(
                "UPDATE documents SET locked_by = NULL, locked_at = NULL WHERE id = %s", (doc_id,)
            )
            audit.record(conn, user, "cancel_checkout", doc_id, holder=doc["locked_by_name"])
        return {"document_id": doc_id, "checked_out_by": None}

    @api.post("/documents/{doc_id}/checkin", status_code=201)
    def checkin(body: CheckIn, request: Request, doc_id: int = DocId) -> dict[str, Any]:
        data = body.data()
        with session(request, *access.CONTRIBUTORS) as (conn, user):
            doc = access.load(conn, user, doc_id, "write", "checkin", for_update=True)
            if doc["locked_by"] != user.id:
                holder = doc["locked_by_name"] or "nobody"
                raise Conflict(f"document {doc_id} must be checked out by you (held by {holder})")
            ensure_editable(doc, user)
            version = add_version(
                conn, user, doc_id, data, body.media_type, body.filename, body.comment
            )
            conn.execute(
                "UPDATE documents SET locked_by = NULL, locked_at = NULL WHERE id = %s", (doc_id,)
            )
            audit.record(conn, user, "checkin", doc_id, **version)
        return {"document_id": doc_id, **version}

    return api


def _bytes(conn: Any, doc_id: int, version: int) -> bytes:
    row = conn.execute(
        "SELECT content FROM document_versions WHERE document_id = %s AND version = %s",
        (doc_id, version),
    ).fetchone()
    return bytes(row["content"]) if row and row["content"] is not None else b""


def _disposition(name: str) -> str:
    """Header values must be Latin-1: an ASCII fallback plus the RFC 6266 UTF-8 form."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback[:200]}\"; filename*=UTF-8''{quote(name[:200])}"
