"""The drill engine's document probe: stored content is re-hashed on read, so a document
that survived a failover only in name (truncated, or an older version) is caught."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from apps.common.auth import session
from apps.common.errors import Conflict
from apps.common.probe import PROBE_ROLES, Drill
from apps.common.types import BIGINT_MAX
from apps.ecm.schemas import decode_b64


class ProbeDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drill: Drill
    seq: int = Field(ge=0, le=BIGINT_MAX)
    content_b64: str = Field(max_length=1_400_000)

    @field_validator("content_b64")
    @classmethod
    def _b64(cls, value: str) -> str:
        decode_b64(value)
        return value


def router() -> APIRouter:
    api = APIRouter(prefix="/api/probe", tags=["probe"])

    @api.post("/documents", status_code=201)
    def store(body: ProbeDocument, request: Request) -> dict[str, Any]:
        data = decode_b64(body.content_b64)
        sha = hashlib.sha256(data).hexdigest()
        with session(request, *PROBE_ROLES) as (conn, _):
            row = conn.execute(
                """INSERT INTO probe_documents (drill, seq, content, sha256)
                   VALUES (%s, %s, %s, %s) ON CONFLICT (drill, seq) DO NOTHING
                   RETURNING committed_at""",
                (body.drill, body.seq, data, sha),
            ).fetchone()
            if row is None:
                raise Conflict(f"seq: {body.seq} already stored for drill {body.drill!r}")
        return {"drill": body.drill, "seq": body.seq, "sha256": sha,
                "committed_at": row["committed_at"]}  # fmt: skip

    @api.get("/documents/{drill}")
    def stored(drill: Drill, request: Request) -> list[dict[str, Any]]:
        with session(request, *PROBE_ROLES) as (conn, _):
            rows = conn.execute(
                "SELECT seq, content FROM probe_documents WHERE drill = %s ORDER BY seq",
                (drill,),
            ).fetchall()
        return [{"seq": r["seq"], "sha256": hashlib.sha256(r["content"]).hexdigest()} for r in rows]

    return api
