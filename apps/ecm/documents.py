"""Documents: create with content, read and update metadata, manage per-document grants."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Path, Request

from apps.common.auth import Principal, session
from apps.common.db import Conn
from apps.common.errors import Conflict, Invalid
from apps.common.types import BIGINT_MAX
from apps.ecm import access, audit
from apps.ecm.schemas import DocumentIn, DocumentPatch, Grant, Schedule

DocId = Path(ge=1, le=BIGINT_MAX)
TEXT_LIMIT = 200_000  # characters indexed per document; tsvector values are capped at 1 MB


def extract_text(data: bytes, media_type: str) -> str:
    """Indexable text; only text formats are read (binary formats would need converters)."""
    if not (
        media_type.startswith("text/") or media_type in ("application/json", "application/xml")
    ):
        return ""
    return data[: TEXT_LIMIT * 4].decode("utf-8", "replace").replace("\x00", " ")[:TEXT_LIMIT]


def public_view(row: dict[str, Any], version: dict[str, Any] | None = None) -> dict[str, Any]:
    view = {
        "id": row["id"],
        "title": row["title"],
        "author": row["author"],
        "language": row["language"],
        "date": row["doc_date"],
        "symbol": row["symbol"],
        "classification": row["classification"],
        "security_level": row["security_level"],
        "owner": row.get("owner_name"),
        "current_version": row["current_version"],
        "checked_out_by": row.get("locked_by_name"),
        "checked_out_at": row["locked_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "record": None,
    }
    if row.get("schedule"):
        view["record"] = {
            "schedule": row["schedule"],
            "declared_at": row["declared_at"],
            "retention_until": row["retention_until"],
            "legal_hold": row["legal_hold"],
            "legal_hold_reason": row["legal_hold_reason"],
            "disposed_at": row["disposed_at"],
            "disposition": row["disposition"],
        }
    if version:
        view.update(
            sha256=version["sha256"], size=version["size"], media_type=version["media_type"]
        )
    return view


def add_version(
    conn: Conn,
    user: Principal,
    doc_id: int,
    data: bytes,
    media_type: str,
    filename: str,
    comment: str,
) -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    row = conn.execute(
        """UPDATE documents SET current_version = current_version + 1, content_text = %s,
                  updated_at = now() WHERE id = %s RETURNING current_version""",
        (extract_text(data, media_type), doc_id),
    ).fetchone()
    assert row is not None
    version = row["current_version"]
    conn.execute(
        """INSERT INTO document_versions
             (document_id, version, content, sha256, size, media_type, filename, comment,
              created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (doc_id, version, data, sha, len(data), media_type, filename, comment, user.id),
    )
    return {"version": version, "sha256": sha, "size": len(data), "media_type": media_type}


def check_classification(conn: Conn, code: str | None) -> None:
    if (
        code is not None
        and not conn.execute("SELECT 1 FROM taxonomy_terms WHERE code = %s", (code,)).fetchone()
    ):
        raise Invalid("classification", f"{code!r} is not a taxonomy term")


def check_symbol(conn: Conn, symbol: str | None, language: str, doc_id: int | None) -> None:
    if (
        symbol is not None
        and conn.execute(
            """SELECT 1 FROM documents
                WHERE symbol = %s AND language = %s AND id IS DISTINCT FROM %s""",
            (symbol, language, doc_id),
        ).fetchone()
    ):
        raise Conflict(f"symbol: {symbol} already exists in language {language}")


def router() -> APIRouter:
    api = APIRouter(tags=["documents"])

    @api.post("/documents", status_code=201)
    def create(body: DocumentIn, request: Request) -> dict[str, Any]:
        data = body.data()
        with session(request, *access.CONTRIBUTORS) as (conn, user):
            check_classification(conn, body.classification)
            check_symbol(conn, body.symbol, body.language, None)
            row = conn.execute(
                """INSERT INTO documents (title, author, language, doc_date, symbol,
                                          classification, security_level, owner_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (body.title, body.author, body.language, body.date, body.symbol,
                 body.classification, body.security_level, user.id),
            ).fetchone()  # fmt: skip
            assert row is not None
            doc_id = int(row["id"])
            version = add_version(
                conn, user, doc_id, data, body.media_type, body.filename, "created"
            )
            audit.record(conn, user, "create", doc_id, title=body.title, **version)
            doc = access.load(conn, user, doc_id, "read", "read_metadata")
        return public_view(doc, version)

    @api.get("/documents/{doc_id}")
    def read(request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, *access.READERS) as (conn, user):
            doc = access.load(conn, user, doc_id, "read", "read_metadata")
            version = current_version(conn, doc)
            audit.record(conn, user, "read_metadata", doc_id)
        return public_view(doc, version)

    @api.patch("/documents/{doc_id}")
    def update(body: DocumentPatch, request: Request, doc_id: int = DocId) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise Invalid("body", "no field to change")
        for field in ("title", "author", "language", "date", "classification", "security_level"):
            if field in changes and changes[field] is None:
                raise Invalid(field, "must not be null")
        with session(request, *access.CONTRIBUTORS) as (conn, user):
            doc = access.load(conn, user, doc_id, "write", "update", for_update=True)
            ensure_editable(doc, user)
            check_classification(conn, changes.get("classification"))
            if "symbol" in changes or "language" in changes:
                symbol = changes.get("symbol", doc["symbol"])
                check_symbol(conn, symbol, changes.get("language", doc["language"]), doc_id)
            columns = {("doc_date" if k == "date" else k): v for k, v in changes.items()}
            assignments = ", ".join(f"{column} = %({column})s" for column in columns)
            conn.execute(
                f"UPDATE documents SET {assignments}, updated_at = now() WHERE id = %(id)s",
                {**columns, "id": doc_id},
            )
            audit.record(conn, user, "update", doc_id, changed=sorted(changes))
            doc = access.load(conn, user, doc_id, "read", "read_metadata")
            version = current_version(conn, doc)
        return public_view(doc, version)

    @api.put("/documents/{doc_id}/grants")
    def grant(body: Grant, request: Request, doc_id: int = DocId) -> dict[str, Any]:
        with session(request, *access.CONTRIBUTORS) as (conn, user):
            access.load(conn, user, doc_id, "own", "grant")
            target = conn.execute(
                "SELECT id FROM users WHERE username = %s", (body.username,)
            ).fetchone()
            if target is None:
                raise Invalid("username", f"no user {body.username!r}")
            if body.access == "none":
                conn.execute(
                    "DELETE FROM document_grants WHERE document_id = %s AND user_id = %s",
                    (doc_id, target["id"]),
                )
            else:
                conn.execute(
                    """INSERT INTO document_grants (document_id, user_id, access)
                       VALUES (%s, %s, %s) ON CONFLICT (document_id, user_id)
                       DO UPDATE SET access = EXCLUDED.access""",
                    (doc_id, target["id"], body.access),
                )
            audit.record(conn, user, "grant", doc_id, username=body.username, access=body.access)
        return {"document_id": doc_id, "username": body.username, "access": body.access}

    @api.get("/taxonomy")
    def taxonomy(request: Request) -> list[dict[str, Any]]:
        with session(request, *access.READERS) as (conn, _):
            return conn.execute("SELECT code, label FROM taxonomy_terms ORDER BY code").fetchall()

    @api.get("/retention-schedules")
    def schedules(request: Request) -> list[dict[str, Any]]:
        with session(request, *access.READERS) as (conn, _):
            return conn.execute("SELECT * FROM retention_schedules ORDER BY code").fetchall()

    @api.post("/retention-schedules", status_code=201)
    def add_schedule(body: Schedule, request: Request) -> dict[str, Any]:
        with session(request, "records_manager") as (conn, user):
            row = conn.execute(
                """INSERT INTO retention_schedules (code, title, retention_days, disposition_action)
                   VALUES (%s, %s, %s, %s) ON CONFLICT (code) DO NOTHING RETURNING code""",
                (body.code, body.title, body.retention_days, body.disposition_action),
            ).fetchone()
            if row is None:
                raise Conflict(f"code: schedule {body.code} already exists")
            audit.record(conn, user, "add_schedule", None, **body.model_dump())
        return body.model_dump()

    return api


def current_version(conn: Conn, doc: dict[str, Any]) -> dict[str, Any] | None:
    return conn.execute(
        """SELECT version, sha256, size, media_type, filename FROM document_versions
            WHERE document_id = %s AND version = %s""",
        (doc["id"], doc["current_version"]),
    ).fetchone()


def ensure_editable(doc: dict[str, Any], user: Principal) -> None:
    """Declared records are fixed; a checked-out document is changed only by its holder."""
    if doc["schedule"]:
        raise Conflict(f"document {doc['id']} is a declared record and cannot be changed")
    if doc["locked_by"] is not None and doc["locked_by"] != user.id:
        raise Conflict(f"document {doc['id']} is checked out by {doc['locked_by_name']}")
