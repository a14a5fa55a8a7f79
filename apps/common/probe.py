"""The drill engine's probe API (exact contract in DESIGN.md section 6), shared by both apps.

A write is acknowledged with 201 only after COMMIT returned, so with synchronous replication
every acknowledged row must still be there after a failover; the engine checks exactly that.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from apps.common.auth import Principal, session
from apps.common.db import Conn
from apps.common.errors import Conflict
from apps.common.settings import Settings
from apps.common.types import BIGINT_MAX

PROBE_ROLES = ("prober",)
Drill = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]


class ProbeWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drill: Drill
    seq: int = Field(ge=0, le=BIGINT_MAX)
    client_ts: float = Field(allow_inf_nan=False)


@contextmanager
def probe_session(request: Request) -> Iterator[tuple[Conn, Principal]]:
    """A prober's transaction under the short probe deadline and statement timeout."""
    settings: Settings = request.app.state.settings
    with session(
        request,
        *PROBE_ROLES,
        deadline_s=settings.probe_deadline_s,
        statement_timeout_ms=settings.probe_statement_timeout_ms,
    ) as pair:
        yield pair


def router() -> APIRouter:
    api = APIRouter(prefix="/api/probe", tags=["probe"])

    @api.post("/writes", status_code=201)
    def write(body: ProbeWrite, request: Request) -> dict[str, Any]:
        with probe_session(request) as (conn, _):
            row = conn.execute(
                """INSERT INTO probe_writes (drill, seq, client_ts) VALUES (%s, %s, %s)
                   ON CONFLICT (drill, seq) DO NOTHING RETURNING committed_at""",
                (body.drill, body.seq, body.client_ts),
            ).fetchone()
            if row is None:
                raise Conflict(f"seq: {body.seq} already written for drill {body.drill!r}")
        # Reaching here means the transaction committed.
        return {"drill": body.drill, "seq": body.seq, "committed_at": row["committed_at"]}

    @api.get("/writes/{drill}")
    def written(drill: Drill, request: Request) -> dict[str, Any]:
        with probe_session(request) as (conn, _):
            rows = conn.execute(
                "SELECT seq FROM probe_writes WHERE drill = %s ORDER BY seq", (drill,)
            ).fetchall()
        return {"drill": drill, "seqs": [r["seq"] for r in rows]}

    @api.get("/read")
    def read(request: Request) -> dict[str, Any]:
        with probe_session(request) as (conn, _):
            conn.execute("SELECT count(*) FROM readiness").fetchone()
        return {"ok": True}

    return api
