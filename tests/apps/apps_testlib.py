"""Helpers shared by the application tests (a plain module: conftest is not importable)."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

ADMIN_TOKEN = "test-admin-token-0123456789"
PROBER_TOKEN = "test-prober-token-0123456789"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer(ADMIN_TOKEN)
PROBER = bearer(PROBER_TOKEN)


def make_user(
    client: TestClient, username: str, roles: list[str], email: str | None = None
) -> dict[str, str]:
    """Creates a user through the API and returns headers carrying a fresh token for it."""
    body: dict[str, object] = {"username": username, "roles": roles}
    if email:
        body["email"] = email
    r = client.post("/users", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    t = client.post(f"/users/{username}/tokens", json={"label": "test"}, headers=ADMIN)
    assert t.status_code == 201, t.text
    return bearer(t.json()["token"])


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()
