"""Helpers shared by the application tests (a plain module: conftest is not importable)."""

from __future__ import annotations

import base64
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

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


PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*args: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)


@dataclass
class Cluster:
    root: Path
    data: Path
    port: int

    def dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user=postgres"

    def stop(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start(self) -> None:
        _as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-w", "-t", "30", "start",
        )  # fmt: skip


def _settings(app: str, dsn: str):  # type: ignore[no-untyped-def]
    from apps.common.settings import Settings

    return Settings(
        app=app, dsn=dsn, admin_token=ADMIN_TOKEN, site="brindisi", prober_token=PROBER_TOKEN
    )
