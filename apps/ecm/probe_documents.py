"""The drill engine's document probe: stored content is re-hashed on read, so a document
that survived a failover only in name (truncated, or an older version) is caught."""

from __future__ import annotations

import hashlib
from typing import Any, Self

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from apps.common.errors import Conflict, NotFound
from apps.common.probe import Drill, probe_session
from apps.common.types import BIGINT_MAX
from apps.ecm.schemas import decode_b64

MAX_PROBE_CONTENT = 1_000_000


class ProbeDocument(BaseModel):
    """Content as text (`content`, stored as UTF-8) or bytes (`content_b64`), exactly one."""

    model_config = ConfigDict(extra="forbid")
    drill: Drill = "adhoc"
    seq: int | None = Field(None, ge=0, le=BIGINT_MAX)
    content: str | None = Field(None, max_length=MAX_PROBE_CONTENT)
    content_b64: str | None = Field(None, max_length=MAX_PROBE_CONTENT * 4 // 3 + 4)

    @model_validator(mode="after")
    def _one_content(self) -> Self:
        if (self.content is None) == (self.content_b64 is None):
            raise ValueError("content: give exactly one of content and content_b64")
        if self.content_b64 is not None:
            decode_b64(self.content_b64)
        return self

    def data(self) -> bytes:
        if self.content_b64 is not None:
            return decode_b64(self.content_b64)
        return (self.content or "").encode()


def _view(row: dict[str, Any]) -> dict[str, Any]:
    content = bytes(row["content"])
    sha = hashlib.sha256(content).hexdigest()
    return {
        "id": row["id"],
        "drill": row["drill"],
        "seq": row["seq"],
        "sha256": sha,
        "size": len(content),
        # False when the bytes no longer hash to what was acknowledged.
        "intact": sha == row["sha256"],
        "committed_at": row["committed_at"],
    }


def router() -> APIRouter:
    api = APIRouter(prefix="/api/probe", tags=["probe"])

    @api.post("/documents", status_code=201)
    def store(body: ProbeDocument, request: Request) -> dict[str, Any]:
        data = body.data()
        sha = hashlib.sha256(data).hexdigest()
        with probe_session(request) as (conn, _):
            row = conn.execute(
                """INSERT INTO probe_documents (id, drill, seq, content, sha256)
                   SELECT n, %s, coalesce(%s, n), %s, %s FROM (SELECT nextval(
                       pg_get_serial_sequence('probe_documents', 'id')) AS n) AS s
                   ON CONFLICT (drill, seq) DO NOTHING RETURNING id, seq, committed_at""",
                (body.drill, body.seq, data, sha),
            ).fetchone()
            if row is None:
                raise Conflict(f"seq: {body.seq} already stored for drill {body.drill!r}")
        # Reaching here means the transaction committed.
        return {"id": row["id"], "drill": body.drill, "seq": row["seq"], "sha256": sha,
                "size": len(data), "committed_at": row["committed_at"]}  # fmt: skip

    @api.get("/documents/{doc_id:int}")
    def fetch(doc_id: int, request: Request) -> dict[str, Any]:
        with probe_session(request) as (conn, _):
            row = conn.execute(
                "SELECT * FROM probe_documents WHERE id = %s", (min(doc_id, BIGINT_MAX),)
            ).fetchone()
        if row is None:
            raise NotFound(f"id: no probe document {doc_id}")
        return _view(row)

    @api.get("/documents/{drill}")
    def by_drill(drill: Drill, request: Request) -> list[dict[str, Any]]:
        with probe_session(request) as (conn, _):
            rows = conn.execute(
                "SELECT * FROM probe_documents WHERE drill = %s ORDER BY seq", (drill,)
            ).fetchall()
        return [_view(r) for r in rows]

    return api
