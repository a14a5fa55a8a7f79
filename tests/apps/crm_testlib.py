"""CRM test helpers: people with roles, and tickets logged through the API."""

from __future__ import annotations

import itertools
from typing import Any

from apps_testlib import ADMIN, make_user
from fastapi.testclient import TestClient

_n = itertools.count(1)


def person(crm: TestClient, role: str, groups: tuple[str, ...] = ()) -> dict[str, str]:
    """A new user with `role` and an email address; agents can be put in groups."""
    name = f"{role}{next(_n)}"
    headers = make_user(crm, name, [role], email=f"{name}@un.org")
    for group in groups:
        r = crm.post(f"/groups/{group}/members", json={"username": name}, headers=ADMIN)
        assert r.status_code == 201, r.text
    return {**headers, "X-Test-User": name}


def customer(crm: TestClient, agent: dict[str, str], site: str | None = None) -> str:
    email = f"customer{next(_n)}@un.org"
    body: dict[str, Any] = {"email": email, "name": "Amina Diallo", "organisation": "OCHA"}
    if site:
        body["site"] = site
    r = crm.post("/customers", json=body, headers=agent)
    assert r.status_code == 201, r.text
    return email


def ticket(crm: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Cannot open shared drive {next(_n)}",
        "impact": 2,
        "urgency": 2,
    }
    body.update(fields)
    r = crm.post("/tickets", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def move(crm: TestClient, headers: dict[str, str], number: str, status: str, **extra: Any) -> Any:
    return crm.post(
        f"/tickets/{number}/transition", json={"status": status, **extra}, headers=headers
    )
