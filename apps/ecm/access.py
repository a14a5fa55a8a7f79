"""Per-document rights. Confidential documents are readable only by their owner, users
granted access, and admins; everything else is readable by any authenticated user. Writing
needs ownership or a write grant. Every refusal is audited and committed before the 403.
"""

from __future__ import annotations

from typing import Any, Literal

from apps.common.auth import Principal
from apps.common.db import Conn
from apps.common.errors import CommittedRefusal, NotFound
from apps.ecm import audit
from apps.ecm.schemas import CONFIDENTIAL

Need = Literal["read", "write", "own"]

# Roles gating the routes (admin passes every gate); per-document rights come on top.
READERS = ("user", "reader", "records_manager", "auditor")
CONTRIBUTORS = ("user", "records_manager")

# The same rule as allowed(), as SQL for searches (parameters: uid, admin).
READABLE_SQL = """(%(admin)s OR d.owner_id = %(uid)s
    OR d.security_level NOT IN ('confidential', 'strictly_confidential')
    OR EXISTS (SELECT 1 FROM document_grants g
                WHERE g.document_id = d.id AND g.user_id = %(uid)s))"""


def allowed(row: dict[str, Any], user: Principal, need: Need) -> bool:
    if "admin" in user.roles or row["owner_id"] == user.id:
        return True
    if need == "own":
        return False
    granted = row["granted"]
    if need == "write":
        return bool(granted == "write")
    return row["security_level"] not in CONFIDENTIAL or granted in ("read", "write")


def load(
    conn: Conn,
    user: Principal,
    doc_id: int,
    need: Need,
    action: str,
    *,
    for_update: bool = False,
) -> dict[str, Any]:
    """The document row if `user` may `need` it; otherwise a 404, or an audited 403."""
    row = conn.execute(
        f"""SELECT d.*, g.access AS granted, r.schedule, r.retention_until, r.legal_hold,
                   r.legal_hold_reason, r.declared_at, r.disposed_at, r.disposition,
                   lu.username AS locked_by_name, ou.username AS owner_name
              FROM documents d
              LEFT JOIN document_grants g ON g.document_id = d.id AND g.user_id = %s
              LEFT JOIN records r ON r.document_id = d.id
              LEFT JOIN users lu ON lu.id = d.locked_by
              LEFT JOIN users ou ON ou.id = d.owner_id
             WHERE d.id = %s {"FOR UPDATE OF d" if for_update else ""}""",
        (user.id, doc_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"document_id: document {doc_id} not found")
    if not allowed(row, user, need):
        audit.record(
            conn, user, action, doc_id, outcome="denied",
            need=need, security_level=row["security_level"],
        )  # fmt: skip
        raise CommittedRefusal(403, f"access denied: {need} on document {doc_id}")
    return row
