"""The ECM application: `uvicorn apps.ecm.main:app` (or `create_app(settings)`)."""

from __future__ import annotations

from fastapi import FastAPI

from apps.common.app import build
from apps.common.settings import Settings
from apps.ecm import audit, documents, probe_documents, records, search, versions

ROLES = frozenset({"admin", "prober", "records_manager", "auditor", "user", "reader"})


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(
        settings or Settings.from_env("ecm"),
        "drctl ECM",
        [
            documents.router(),
            versions.router(),
            records.router(),
            search.router(),
            audit.router(),
            probe_documents.router(),
        ],
        ROLES,
    )


app = create_app()
