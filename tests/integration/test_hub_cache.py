"""Hub caches (issue 3): ECM downloads served from the hub's cache, even with Brindisi down."""

from __future__ import annotations

import base64
import hashlib
import os

import httpx
import pytest

from drctl.estate.lab import LabEstate
from drctl.topology.model import Topology

pytestmark = pytest.mark.lab


def test_download_is_cached_at_the_hub_and_served_with_brindisi_off(
    steady: LabEstate, topology: Topology
) -> None:
    ecm = topology.system("ecm")
    assert ecm.app is not None
    front = f"http://{steady.address(topology.front_door.name)}:{ecm.app.port}"
    geneva = f"http://{steady.address('geneva')}:{topology.ports.hub_cache}"
    auth = {"Authorization": f"Bearer {steady.secret('admin_token')}"}
    content = f"Official document for the hub cache test {os.urandom(8).hex()}".encode()
    created = httpx.post(
        f"{front}/documents",
        headers=auth,
        timeout=10,
        json={
            "title": "Hub cache test",
            "author": "DGACM",
            "language": "en",
            "date": "2026-11-25",
            "classification": "HR",
            "security_level": "public",
            "content_b64": base64.b64encode(content).decode(),
            "media_type": "text/plain",
            "filename": "hub.txt",
        },
    )
    assert created.status_code == 201, created.text
    url = f"{geneva}/documents/{created.json()['id']}/content"

    first = httpx.get(url, headers=auth, timeout=10)
    assert first.status_code == 200 and first.content == content
    assert first.headers["X-Cache-Status"] in ("MISS", "EXPIRED")
    second = httpx.get(url, headers=auth, timeout=10)
    assert second.headers["X-Cache-Status"] == "HIT"
    assert hashlib.sha256(second.content).hexdigest() == second.headers["ETag"].strip('"')

    steady.power_off("brindisi")
    during = httpx.get(url, headers=auth, timeout=10)
    assert during.status_code == 200 and during.content == content
    assert during.headers["X-Cache-Status"] in ("HIT", "STALE", "UPDATING")
