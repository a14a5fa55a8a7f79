"""Lab secrets: generated at the first `lab up`, kept in a root-only file, never committed."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

NAMES = (
    "db_superuser",
    "db_replication",
    "db_rewind",
    "db_app",
    "admin_token",
    "prober_token",
    "patroni_rest",
)


def load_or_create(path: Path) -> dict[str, str]:
    existing: dict[str, str] = {}
    if path.exists():
        existing = json.loads(path.read_text())
    values = {name: existing.get(name) or secrets.token_urlsafe(24) for name in NAMES}
    if values != existing:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(values, fh, indent=1)
    return values


def write_vars_file(values: dict[str, str], path: Path) -> Path:
    """The secrets as an Ansible variables file (drctl_secrets), readable by root only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"drctl_secrets": values}, fh)
    return path


def load(path: Path) -> dict[str, str]:
    return dict(json.loads(path.read_text()))
