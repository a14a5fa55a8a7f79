"""The self-service pages (server-rendered HTML): a customer signs in with their token, sees
their own tickets, logs new ones, comments, and confirms or reopens finished work.

The token travels in an HttpOnly, SameSite=Strict cookie; every form also carries a CSRF
value derived from it, so another site cannot post on a signed-in user's behalf.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from apps.common.auth import COOKIE, Principal, authenticate, request_token, session
from apps.common.db import Conn, Database
from apps.common.errors import Forbidden, Invalid
from apps.crm import access, itil, operations
from apps.crm.schemas import Comment, TicketIn, Transition
from apps.crm.tickets import LIST_SQL

HOME = "/self-service"
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
MOVE_LABELS = {
    ("new", "cancelled"): "Cancel my ticket",
    ("resolved", "closed"): "Confirm it is solved",
    ("resolved", "in_progress"): "It is not solved: reopen",
    ("fulfilled", "closed"): "Confirm it is done",
    ("fulfilled", "in_progress"): "It is not done: reopen",
}


def csrf_value(token: str) -> str:
    return hmac.new(token.encode(), b"drctl-self-service", hashlib.sha256).hexdigest()[:32]


def _page(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", None)
    context.setdefault("csrf", "")
    context.setdefault("error", None)
    html = TEMPLATES.get_template(name).render(site=request.app.state.settings.site, **context)
    return HTMLResponse(html, status_code=code)


def _guarded(request: Request, work: Callable[[], Response]) -> Response:
    """Refusals and bad input as HTML pages with the same status as the API would give."""
    try:
        return work()
    except HTTPException as exc:
        return _page(request, "error.html", exc.status_code, status=exc.status_code,
                     detail=str(exc.detail))  # fmt: skip


def _check_csrf(request: Request, csrf: str) -> None:
    # compared as bytes: compare_digest refuses str with non-ASCII characters (a 500)
    if not hmac.compare_digest(csrf.encode(), csrf_value(request_token(request)).encode()):
        raise Forbidden("csrf: the form is stale or came from another site; reload the page")


def _invalid(exc: ValidationError) -> Invalid:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "form"
    return Invalid(field, str(err["msg"]))


def _mine(conn: Conn, user: Principal) -> list[dict[str, Any]]:
    rows = conn.execute(
        LIST_SQL + " ORDER BY t.reported_at DESC LIMIT 50",
        {"staff": False, "email": user.email or "", "status": None, "kind": None, "desk": None,
         "priority": None, "open": False, "not_open": []},
    ).fetchall()  # fmt: skip
    return [operations.view(r) for r in rows]


def router() -> APIRouter:
    api = APIRouter(prefix=HOME, tags=["self-service"], include_in_schema=False)

    @api.get("")
    def home(request: Request) -> Response:
        try:
            token = request_token(request)
        except HTTPException:
            return _page(request, "login.html")

        def work() -> Response:
            with session(request, *access.PEOPLE) as (conn, user):
                tickets = _mine(conn, user)
            return _page(request, "tickets.html", user=user, csrf=csrf_value(token),
                         tickets=tickets)  # fmt: skip

        return _guarded(request, work)

    @api.post("/login")
    def login(request: Request, token: str = Form("")) -> Response:
        db: Database = request.app.state.db
        try:
            with db.transaction() as conn:
                authenticate(conn, token.strip())
        except HTTPException:
            return _page(request, "login.html", 401, error="Unknown or revoked token.")
        response = RedirectResponse(HOME, status_code=303)
        response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path=HOME)
        return response

    @api.post("/logout")
    def logout() -> Response:
        response = RedirectResponse(HOME, status_code=303)
        response.delete_cookie(COOKIE, path=HOME)
        return response

    @api.post("/tickets")
    def create(
        request: Request,
        csrf: str = Form(""),
        kind: str = Form("incident"),
        title: str = Form(""),
        description: str = Form(""),
        urgency: str = Form("3"),
    ) -> Response:
        def work() -> Response:
            _check_csrf(request, csrf)
            if kind not in ("incident", "request"):
                raise Invalid("kind", "choose incident or request")
            try:
                fields = {"kind": kind, "title": title, "description": description}
                body = TicketIn.model_validate(
                    {**fields, "urgency": urgency, "channel": "self-service"}
                )
            except ValidationError as exc:
                raise _invalid(exc) from exc
            with session(request, *access.PEOPLE) as (conn, user):
                row = operations.create(conn, user, body, request.app.state.settings.site)
            return RedirectResponse(f"{HOME}/tickets/{row['number']}", status_code=303)

        return _guarded(request, work)

    @api.get("/tickets/{number}")
    def ticket(request: Request, number: str) -> Response:
        def work() -> Response:
            if not itil.NUMBER.match(number):
                raise Invalid("number", f"{number!r} is not a ticket number")
            token = request_token(request)
            with session(request, *access.PEOPLE) as (conn, user):
                row = _own(conn, user, number)
                events = conn.execute(
                    """SELECT at, actor, kind, to_status, note FROM ticket_events
                        WHERE ticket_id = %s AND public ORDER BY id""",
                    (row["id"],),
                ).fetchall()
            moves = [(to, MOVE_LABELS[(row["status"], to)])
                     for to in sorted(itil.allowed(row["kind"], row["status"]))
                     if (row["status"], to) in MOVE_LABELS]  # fmt: skip
            return _page(request, "ticket.html", user=user, csrf=csrf_value(token),
                         t=operations.view(row), events=events, moves=moves,
                         open=row["status"] not in itil.FINAL)  # fmt: skip

        return _guarded(request, work)

    @api.post("/tickets/{number}/comment")
    def comment(
        request: Request, number: str, csrf: str = Form(""), note: str = Form("")
    ) -> Response:
        def work() -> Response:
            _check_csrf(request, csrf)
            try:
                body = Comment.model_validate({"note": note})
            except ValidationError as exc:
                raise _invalid(exc) from exc
            with session(request, *access.PEOPLE) as (conn, user):
                row = _own(conn, user, number, lock=True)
                operations.comment(conn, user, row, body.note)
            return RedirectResponse(f"{HOME}/tickets/{number}", status_code=303)

        return _guarded(request, work)

    @api.post("/tickets/{number}/status")
    def move(
        request: Request, number: str, csrf: str = Form(""), status: str = Form("")
    ) -> Response:
        def work() -> Response:
            _check_csrf(request, csrf)
            try:
                body = Transition.model_validate({"status": status})
            except ValidationError as exc:
                raise _invalid(exc) from exc
            with session(request, *access.PEOPLE) as (conn, user):
                row = _own(conn, user, number, lock=True)
                # Here everyone acts as the customer, staff included.
                as_customer = Principal(user.id, user.username, user.email, frozenset({"user"}))
                operations.transition(conn, as_customer, row, body)
            return RedirectResponse(f"{HOME}/tickets/{number}", status_code=303)

        return _guarded(request, work)

    return api


def _own(conn: Conn, user: Principal, number: str, lock: bool = False) -> dict[str, Any]:
    """Self-service shows a user their own tickets only, whatever their role."""
    if not itil.NUMBER.match(number):
        raise Invalid("number", f"{number!r} is not a ticket number")
    as_customer = Principal(user.id, user.username, user.email, frozenset({"user"}))
    return access.load(conn, as_customer, number, for_update=lock)
