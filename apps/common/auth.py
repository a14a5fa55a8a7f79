"""API tokens: `Authorization: Bearer <token>`, stored as SHA-256 hashes, mapped to roles.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to make a stolen table useless
(slow password hashes exist for low-entropy secrets). Every request authenticates inside its
own transaction, so a token revoked on the primary is revoked at once after a failover too.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import HTTPException, Request

from apps.common.db import Conn, Database
from apps.common.errors import CommittedRefusal, Forbidden

COOKIE = "drctl_token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    id: int
    username: str
    email: str | None
    roles: frozenset[str]

    def has_any(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def request_token(request: Request) -> str:
    """The bearer token, or the self-service cookie; checked before any database work."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cookie = request.cookies.get(COOKIE, "")
    if cookie:
        return cookie
    raise _unauthorized("authorization: missing bearer token")


def authenticate(conn: Conn, token: str) -> Principal:
    row = conn.execute(
        """SELECT u.id, u.username, u.email,
                  coalesce(array_agg(r.role) FILTER (WHERE r.role IS NOT NULL), '{}') AS roles
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             LEFT JOIN user_roles r ON r.user_id = u.id
            WHERE t.token_hash = %s AND t.revoked_at IS NULL AND u.active
            GROUP BY u.id""",
        (hash_token(token),),
    ).fetchone()
    if row is None:
        raise _unauthorized("authorization: unknown or revoked token")
    return Principal(row["id"], row["username"], row["email"], frozenset(row["roles"]))


@contextmanager
def session(
    request: Request,
    *roles: str,
    deadline_s: float | None = None,
    statement_timeout_ms: int | None = None,
) -> Iterator[tuple[Conn, Principal]]:
    """Authenticate and run one transaction; `roles` (any of, or admin) gate the route.

    A CommittedRefusal raised inside is answered after the transaction commits, so the
    audit record of a refusal survives the refusal itself.
    """
    token = request_token(request)
    db: Database = request.app.state.db
    refusal: CommittedRefusal | None = None
    with db.transaction(deadline_s, statement_timeout_ms) as conn:
        user = authenticate(conn, token)
        if roles and not user.has_any(*roles):
            raise Forbidden(f"role required: one of {', '.join(roles)}")
        try:
            yield conn, user
        except CommittedRefusal as exc:
            refusal = exc
    if refusal is not None:
        raise refusal


def ensure_user(conn: Conn, username: str, roles: list[str], email: str | None = None) -> int:
    row = conn.execute(
        """INSERT INTO users (username, email) VALUES (%s, %s)
           ON CONFLICT (username) DO UPDATE SET email = coalesce(EXCLUDED.email, users.email)
           RETURNING id""",
        (username, email),
    ).fetchone()
    assert row is not None
    for role in roles:
        conn.execute(
            "INSERT INTO user_roles (user_id, role) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (row["id"], role),
        )
    return int(row["id"])


def ensure_token(conn: Conn, user_id: int, token: str, label: str) -> None:
    conn.execute(
        """INSERT INTO api_tokens (token_hash, user_id, label) VALUES (%s, %s, %s)
           ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL, user_id = EXCLUDED.user_id""",
        (hash_token(token), user_id, label),
    )


def ensure_admin(conn: Conn, token: str, prober_token: str = "") -> None:
    """Create (or repair) the bootstrap admin from DRCTL_ADMIN_TOKEN and the drill engine's
    prober from DRCTL_PROBER_TOKEN; idempotent."""
    if token:
        user_id = ensure_user(conn, "admin", ["admin"])
        ensure_token(conn, user_id, token, "bootstrap (DRCTL_ADMIN_TOKEN)")
    if prober_token:
        user_id = ensure_user(conn, "prober", ["prober"])
        ensure_token(conn, user_id, prober_token, "drill engine (DRCTL_PROBER_TOKEN)")
