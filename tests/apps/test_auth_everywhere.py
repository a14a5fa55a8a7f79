"""Every route of both applications requires authentication, except the few that must not.

The routes are enumerated from `app.routes`, so a route added later is covered without
touching this file; an exemption has to be written down here with its reason.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from apps_testlib import ADMIN, ADMIN_TOKEN, PROBER_TOKEN
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Route

pytestmark = pytest.mark.postgres

# (method, path) answered without credentials, and why that is safe.
EXEMPT = {
    # Liveness and readiness: the front door and the drill engine poll them without secrets;
    # they say only alive/ready, the app's name and its site.
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    # Prometheus scrapes without credentials (monitoring/prometheus_config.py). The page holds
    # request counters and latencies labelled by method, route template and status: no user
    # data, no tokens. Requiring a secret would put one in every Prometheus configuration.
    ("GET", "/metrics"),
    # Self-service sign-in: the login form itself, and logging out (which only clears the
    # cookie). Signing in with an unknown token is refused with 401 and is tested below.
    ("GET", "/self-service"),
    ("POST", "/self-service/logout"),
}
# Plausible values for path parameters, so the request reaches the route rather than a 404.
PATH_VALUES = {
    "doc_id": "1",
    "number": "INC0000001",
    "incident": "INC0000002",
    "username": "admin",
    "code": "SD-GENEVA",
    "drill": "drill-1",
    "ci_id": "1",
    "customer_id": "1",
}
PARAM = re.compile(r"\{(\w+)(:\w+)?\}")
BOGUS = {"Authorization": "Bearer not-a-token-anyone-was-given-0123456789"}


def concrete(path: str) -> str:
    return PARAM.sub(lambda m: PATH_VALUES.get(m[1], "1"), path)


def endpoints(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    """(method, full path) of every route, including those of included routers (FastAPI
    keeps those as one entry per router, expanded by `effective_route_contexts`)."""
    out = []
    for route in routes:
        expand = getattr(route, "effective_route_contexts", None)
        leaves: list[Any] = list(expand()) if expand is not None else [route]
        for leaf in leaves:
            # a Mount (static files, a sub-application) would need walking; there is none yet
            assert isinstance(leaf, Route) or hasattr(leaf, "methods"), f"unexpected {leaf!r}"
            methods: set[str] = set(leaf.methods or ())
            out += [(method, str(leaf.path)) for method in sorted(methods - {"HEAD"})]
    return out


@pytest.fixture(scope="module", params=["ecm", "crm"])
def app_client(request: pytest.FixtureRequest) -> TestClient:
    client: TestClient = request.getfixturevalue(request.param)
    return client


def test_every_route_but_health_refuses_a_request_without_credentials(
    app_client: TestClient,
) -> None:
    routes = endpoints(app_client.app.routes)  # type: ignore[attr-defined]
    assert len(routes) > 15
    answers = {}
    for method, path in routes:
        if (method, path) in EXEMPT:
            continue
        r = app_client.request(method, concrete(path), json={})
        answers[f"{method} {path}"] = r.status_code
        if r.status_code == 401 and r.headers["content-type"].startswith("application/json"):
            assert r.json()["detail"].startswith("authorization:"), r.text
    assert {k: v for k, v in answers.items() if v != 401} == {}


def test_an_unknown_token_is_refused_everywhere(app_client: TestClient) -> None:
    """A made-up token gets no further: never an answer with data, never a 500. A malformed
    request may be refused for its shape first (422), which reveals nothing stored, and a
    self-service form for its CSRF value (403), which is derived from the token."""
    bad = {}
    for method, path in endpoints(app_client.app.routes):  # type: ignore[attr-defined]
        if (method, path) in EXEMPT:
            continue
        r = app_client.request(method, concrete(path), json={}, headers=BOGUS)
        refused = (401, 422, 403) if path.startswith("/self-service/") else (401, 422)
        if r.status_code not in refused:
            bad[f"{method} {path}"] = r.status_code
    assert bad == {}


def test_the_exemptions_exist(ecm: TestClient, crm: TestClient) -> None:
    """An exemption for a route that has gone would hide nothing, but would mislead."""
    known = set(endpoints(ecm.app.routes)) | set(endpoints(crm.app.routes))  # type: ignore[attr-defined]
    assert known >= EXEMPT


def test_health_answers_without_credentials(app_client: TestClient) -> None:
    assert app_client.get("/healthz").status_code == 200
    assert app_client.get("/readyz").status_code == 200
    metrics = app_client.get("/metrics").text
    assert "drctl_app_http_requests_total" in metrics
    for secret in (ADMIN_TOKEN, PROBER_TOKEN, BOGUS["Authorization"].split()[1]):
        assert secret not in metrics


def test_every_answer_names_its_site_and_is_counted_by_route(app_client: TestClient) -> None:
    before = app_client.get("/metrics").text
    assert app_client.get("/healthz").headers["X-Served-By"] == "brindisi"
    assert app_client.get("/no/such/route").headers["X-Served-By"] == "brindisi"
    after = app_client.get("/metrics").text

    def count(route: str, status: str, text: str) -> float:
        for line in text.splitlines():
            if line.startswith("drctl_app_http_requests_total{") and all(
                label in line
                for label in ('method="GET"', f'route="{route}"', f'status="{status}"')
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    assert count("/healthz", "200", after) == count("/healthz", "200", before) + 1
    assert count("unmatched", "404", after) == count("unmatched", "404", before) + 1


def test_the_api_schema_is_for_authenticated_callers(app_client: TestClient) -> None:
    assert app_client.get("/openapi.json").status_code == 401
    assert app_client.get("/openapi.json", headers=BOGUS).status_code == 401
    schema = app_client.get("/openapi.json", headers=ADMIN).json()
    assert "/healthz" in schema["paths"]
    for ui in ("/docs", "/redoc"):  # cannot send a token; not served
        assert app_client.get(ui).status_code == 404


def test_self_service_sign_in_with_an_unknown_token_is_refused(crm: TestClient) -> None:
    r = crm.post("/self-service/login", data={"token": "made-up"}, follow_redirects=False)
    assert r.status_code == 401 and "drctl_token" not in r.cookies
