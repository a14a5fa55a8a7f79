"""The CRM "iNeed" application: `uvicorn apps.crm.main:app` (or `create_app(settings)`)."""

from __future__ import annotations

from fastapi import FastAPI

from apps.common.app import build
from apps.common.settings import Settings
from apps.crm import cis, customers, desks, mail, problems, reports, selfservice, tickets

ROLES = frozenset({"admin", "prober", "agent", "manager", "user", "mailer"})


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(
        settings or Settings.from_env("crm"),
        'drctl CRM "iNeed"',
        [
            tickets.router(),
            problems.router(),
            customers.router(),
            cis.router(),
            desks.router(),
            mail.router(),
            reports.router(),
        ],
        ROLES,
        pages=[selfservice.router()],
    )


app = create_app()
