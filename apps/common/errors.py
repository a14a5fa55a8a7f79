"""Uniform error answers: 4xx naming the field, 503 when the database is away, never a trace."""

from __future__ import annotations

import logging
import re

import psycopg
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from apps.common.db import DatabaseUnavailable

log = logging.getLogger("apps")
PLAIN = re.compile(r"[\w-]+")


class Conflict(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=409, detail=detail)


class NotFound(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=404, detail=detail)


class Forbidden(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=403, detail=detail)


class CommittedRefusal(HTTPException):
    """A refusal whose audit record must be committed before the error is answered."""


class Invalid(HTTPException):
    """A semantically invalid field (422), with the field named in the message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(status_code=422, detail=f"{field}: {message}")
        self.field = field


def _field(loc: tuple[object, ...] | list[object]) -> str:
    """("body", "args", 0, "site") -> "args.0.site"; a key that is not a plain name (an
    unknown key such as "" or "a: b") is quoted, so the field stays readable and unambiguous."""
    parts = [
        str(p) if isinstance(p, int) or PLAIN.fullmatch(str(p)) else repr(p)
        for p in loc
        if p not in ("body", "query", "path", "header")
    ]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            {"detail": "database unavailable, retry shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    async def data_error(_: Request, exc: Exception) -> JSONResponse:
        # Values that passed validation but that PostgreSQL refuses (NUL bytes, ranges).
        return JSONResponse({"detail": f"invalid value: {str(exc).strip()[:200]}"}, 422)

    async def integrity(_: Request, exc: Exception) -> JSONResponse:
        diag = getattr(exc, "diag", None)
        what = getattr(diag, "constraint_name", None) or "constraint"
        return JSONResponse({"detail": f"conflict with existing data ({what})"}, 409)

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %r", exc, exc_info=exc)
        return JSONResponse({"detail": "internal error"}, 500)

    app.add_exception_handler(RequestValidationError, validation)  # type: ignore[arg-type]
    app.add_exception_handler(DatabaseUnavailable, unavailable)
    app.add_exception_handler(psycopg.OperationalError, unavailable)
    app.add_exception_handler(psycopg.DataError, data_error)
    app.add_exception_handler(psycopg.IntegrityError, integrity)
    app.add_exception_handler(Exception, unexpected)
