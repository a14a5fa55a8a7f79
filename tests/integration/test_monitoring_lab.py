"""Monitoring in the running lab (issue 6): Prometheus at newyork scrapes everything the
topology implies, the drctl exporter reports the lab as it is, and every dashboard panel has
data. `wait_for_alert` is for the drill tests: "DrctlSiteDown fires for brindisi within 15 s
of its power-off, and clears after failback"."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Literal

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from drctl import REPO_ROOT
from drctl.estate.lab import LabEstate
from drctl.topology.model import SiteService, Topology
from monitoring.prometheus_config import config as prometheus_config

pytestmark = pytest.mark.lab

DASHBOARD = REPO_ROOT / "monitoring" / "dashboards" / "drctl.json"
RULES = REPO_ROOT / "monitoring" / "rules"
# never through a proxy from the environment
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))

AlertState = Literal["firing", "pending", "inactive"]


# --- helpers (reusable by other lab tests) ----------------------------------------------------


def prometheus_url(topology: Topology) -> str:
    """The lab Prometheus's base URL (newyork:9090)."""
    site = topology.sites_with(SiteService.PROMETHEUS)[0]
    return f"http://{site.lab_address}:{topology.ports.prometheus}"


def exporter_url(topology: Topology) -> str:
    site = topology.sites_with(SiteService.EXPORTER)[0]
    return f"http://{site.lab_address}:{topology.ports.exporter}/metrics"


def get_json(url: str, timeout: float = 5.0) -> Any:
    with _HTTP.open(url, timeout=timeout) as response:
        return json.loads(response.read())


def query(base_url: str, promql: str) -> list[dict[str, Any]]:
    """An instant query; the result vector (raises if Prometheus refuses the query)."""
    doc = get_json(f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert doc["status"] == "success", doc
    result: list[dict[str, Any]] = doc["data"]["result"]
    return result


def alerts(base_url: str, alertname: str, labels: Mapping[str, str] | None = None) -> list[Any]:
    """Alerts of that name (pending or firing) whose labels include `labels`."""
    doc = get_json(f"{base_url}/api/v1/alerts")
    wanted = dict(labels or {})
    return [
        a
        for a in doc["data"]["alerts"]
        if a["labels"].get("alertname") == alertname
        and all(a["labels"].get(k) == v for k, v in wanted.items())
    ]


def wait_for_alert(
    base_url: str,
    alertname: str,
    state: AlertState,
    *,
    labels: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    poll: float = 0.5,
) -> float:
    """Wait until the alert (with those labels) is in `state` in Prometheus; "inactive" means
    neither pending nor firing. Returns the seconds it took; AssertionError on timeout.

        wait_for_alert(url, "DrctlSiteDown", "firing", labels={"site": "brindisi"}, timeout=15)
    """
    started = time.monotonic()
    seen: list[str] = []
    while True:
        try:
            found = alerts(base_url, alertname, labels)
        except OSError as exc:  # Prometheus itself unreachable for a moment
            found, seen = [], [*seen[-2:], f"error: {exc}"]
        states = {a["state"] for a in found}
        reached = not states if state == "inactive" else state in states
        if reached:
            return time.monotonic() - started
        seen = [*seen[-2:], ",".join(sorted(states)) or "inactive"]
        if time.monotonic() - started > timeout:
            raise AssertionError(
                f"{alertname}{dict(labels or {})} not {state} within {timeout:g} s "
                f"(last seen: {'; '.join(seen)})"
            )
        time.sleep(poll)


def _eventually(check: Callable[[], str | None], timeout: float, poll: float = 1.0) -> None:
    """Retry until `check` returns None (success); else fail with its last complaint."""
    deadline = time.monotonic() + timeout
    while True:
        complaint = check()
        if complaint is None:
            return
        if time.monotonic() > deadline:
            raise AssertionError(complaint)
        time.sleep(poll)


# --- the tests --------------------------------------------------------------------------------


def test_prometheus_scrapes_every_target_the_topology_implies(
    lab: LabEstate, topology: Topology
) -> None:
    base = prometheus_url(topology)
    expected = {
        (job["job_name"], target)
        for job in prometheus_config(topology)["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }

    def check() -> str | None:
        targets = get_json(f"{base}/api/v1/targets?state=active")["data"]["activeTargets"]
        health = {(t["scrapePool"], t["labels"]["instance"]): t for t in targets}
        missing = expected - set(health)
        down = [
            f"{job} {target}: {t['lastError'] or t['health']}"
            for (job, target), t in sorted(health.items())
            if (job, target) in expected and t["health"] != "up"
        ]
        if missing or down:
            return f"not scraped: {sorted(missing)}; not up: {down}"
        return None

    _eventually(check, timeout=30)


def test_every_alert_rule_is_loaded(lab: LabEstate, topology: Topology) -> None:
    wanted = set()
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            wanted |= {r.get("alert") or r["record"] for r in group["rules"]}
    doc = get_json(f"{prometheus_url(topology)}/api/v1/rules")
    loaded = {r["name"] for g in doc["data"]["groups"] for r in g["rules"]}
    assert wanted <= loaded, f"not loaded: {sorted(wanted - loaded)}"
    errors = [r["name"] for g in doc["data"]["groups"] for r in g["rules"] if r.get("lastError")]
    assert not errors, f"rules failing to evaluate: {errors}"


def test_the_exporter_reports_the_healthy_lab_as_it_is(lab: LabEstate, topology: Topology) -> None:
    with _HTTP.open(exporter_url(topology), timeout=10) as response:
        text = response.read().decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float | None:
        return samples.get((f"drctl_{name}", tuple(sorted(labels.items()))))

    for site in topology.sites:
        assert value("site_up", site=site.name) == 1, f"{site.name} reported down"
    sources = {k[1][0][1]: v for k, v in samples.items() if k[0] == "drctl_source_up"}
    assert sources and all(v == 1 for v in sources.values()), f"sources failing: {sources}"
    for system in topology.systems:
        assert value("objective_rto_seconds", system=system.name) == system.objectives.rto_seconds
        for standby in system.placement[1:]:
            member = {"system": system.name, "member": f"{system.database.cluster}-{standby}"}
            lag_bytes = value("replication_lag_bytes", **member)
            lag_seconds = value("replication_lag_seconds", **member)
            # synchronous replicas of a healthy lab: caught up, or a moment behind
            assert lag_bytes is not None and 0 <= lag_bytes < 16 * 2**20, (member, lag_bytes)
            assert lag_seconds is not None and 0 <= lag_seconds < 5, (member, lag_seconds)
        if system.app is not None:
            for rank, at in enumerate(system.placement):
                serving = value("front_door_backend_active", system=system.name, site=at)
                assert serving == (1 if rank == 0 else 0), (system.name, at, serving)


def test_every_site_is_up_in_prometheus_and_no_site_down_alert(
    lab: LabEstate, topology: Topology
) -> None:
    base = prometheus_url(topology)

    def check() -> str | None:
        up = {r["metric"]["site"]: float(r["value"][1]) for r in query(base, "drctl_site_up")}
        wrong = {site.name: up.get(site.name) for site in topology.sites if up.get(site.name) != 1}
        return f"drctl_site_up in Prometheus: {wrong}" if wrong else None

    _eventually(check, timeout=30)
    # the rules have been evaluated on those samples: no site is (even pending) down
    time.sleep(2 * 2)  # two evaluation intervals
    wait_for_alert(base, "DrctlSiteDown", "inactive", timeout=5)


def test_every_dashboard_panel_has_data_in_the_lab(lab: LabEstate, topology: Topology) -> None:
    base = prometheus_url(topology)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [
        (panel["title"], target["refId"], target["expr"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]
    assert queries

    def check() -> str | None:
        empty = [
            f"{title} [{ref}]: {expr}" for title, ref, expr in queries if not query(base, expr)
        ]
        return f"panels without data: {empty}" if empty else None

    # recording rules and the first scrapes need a few evaluation intervals after `lab up`
    _eventually(check, timeout=30, poll=2)
