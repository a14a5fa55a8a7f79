"""User and token administration (admin only), plus /me for any authenticated user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from apps.common.auth import ensure_user, hash_token, new_token, session
from apps.common.errors import Conflict, Invalid, NotFound
from apps.common.types import Name

Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{1,39}$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,190}$")]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    email: Email | None = None
    roles: list[Role] = Field(default_factory=list, max_length=20)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Name = "api"


def router(allowed_roles: frozenset[str]) -> APIRouter:
    api = APIRouter(tags=["users"])

    @api.get("/me")
    def me(request: Request) -> dict[str, Any]:
        with session(request) as (_, user):
            return {
                "id": user.id,
                "username": user.username,
                "email": user.email,
                "roles": sorted(user.roles),
            }

    @api.post("/users", status_code=201)
    def create_user(body: UserIn, request: Request) -> dict[str, Any]:
        unknown = sorted(set(body.roles) - allowed_roles)
        if unknown:
            raise Invalid("roles", f"unknown role(s) {', '.join(unknown)}")
        with session(request, "admin") as (conn, _):
            exists = conn.execute(
                "SELECT 1 FROM users WHERE username = %s", (body.username,)
            ).fetchone()
            if exists:
                raise Conflict(f"username: {body.username!r} already exists")
            user_id = ensure_user(conn, body.username, body.roles, body.email)
        return {"id": user_id, "username": body.username, "roles": sorted(body.roles)}

    @api.post("/users/{username}/tokens", status_code=201)
    def create_token(username: str, body: TokenIn, request: Request) -> dict[str, Any]:
        with session(request, "admin") as (conn, _):
            row = conn.execute("SELECT id FROM users WHERE username = %s", (username,)).fetchone()
            if row is None:
                raise NotFound(f"username: no user {username!r}")
            token = new_token()
            conn.execute(
                "INSERT INTO api_tokens (token_hash, user_id, label) VALUES (%s, %s, %s)",
                (hash_token(token), row["id"], body.label),
            )
        # The only time the token is ever shown: only its hash is stored.
        return {"username": username, "token": token, "label": body.label}

    return api
