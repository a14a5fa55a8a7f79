"""Configuration read from the environment, so the deploy role needs no config files."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    app: str
    dsn: str
    admin_token: str
    site: str
    prober_token: str = ""
    # Upper bound for one request's database work, connecting included.
    request_deadline_s: float = 3.0
    statement_timeout_ms: int = 5000
    # The drill engine probes at 10 Hz and must see a failure as a quick 503, not a hang.
    probe_deadline_s: float = 1.0
    probe_statement_timeout_ms: int = 800
    pool_max: int = 20
    # Requests at work at once; more are refused (503) rather than queued behind the pool.
    max_in_flight: int = 20

    @classmethod
    def from_env(cls, app: str) -> Settings:
        return cls(
            app=app,
            dsn=os.environ.get("DRCTL_DB_DSN", ""),
            admin_token=os.environ.get("DRCTL_ADMIN_TOKEN", ""),
            prober_token=os.environ.get("DRCTL_PROBER_TOKEN", ""),
            site=os.environ.get("DRCTL_SITE", "unknown"),
        )
