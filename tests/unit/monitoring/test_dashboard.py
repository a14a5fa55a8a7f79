"""The Grafana dashboard (monitoring/dashboards/drctl.json): well formed, and every panel
queries only metrics the drctl collector exports or the rules record (plus Prometheus's own)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from typing import Any

import pytest
import yaml
from monitoring_fakes import fixture_text

from drctl import REPO_ROOT
from drctl.topology import DEFAULT_PATH, load_topology
from monitoring.collector import DrctlCollector
from monitoring.config import ExporterConfig
from monitoring.patroni import cluster_urls
from monitoring.sources import HostPort

DASHBOARD = REPO_ROOT / "monitoring" / "dashboards" / "drctl.json"
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE"}
# PromQL words that look like names but are not series
KEYWORDS = {"and", "or", "unless", "bool", "offset", "nan", "inf"}
MODIFIERS = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (not functions, keywords or labels)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(MODIFIERS, " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[m.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if m.group().lower() not in KEYWORDS:
            names.add(m.group())
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (job) (up{job="drctl"}) / count by (job) (up)', {"up"}),
        ("rate(x_total[5m]) > on (a) group_left (b) y * 1e3", {"x_total", "y"}),
        ('count(ALERTS{alertname=~"Drctl.*"}) or vector(0)', {"ALERTS"}),
        ("max by (system) (drctl:a) or on (system) (b * NaN) + Inf", {"drctl:a", "b"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return doc


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exported_names() -> set[str]:
    """Every metric family one scrape of the collector yields, with every source answering."""
    topo = load_topology(DEFAULT_PATH)
    addresses = {s.name: str(s.lab_address) for s in topo.sites}
    bodies = {url: fixture_text("patroni-cluster-ecm.json") for s in topo.systems
              for url in cluster_urls(s, addresses)}  # fmt: skip

    def fetch(groups: Sequence[Sequence[str]], timeout: float) -> list[str | Exception]:
        return [bodies.get(g[0], fixture_text("haproxy-stats-primary.csv")) for g in groups]

    def prober(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
        return set(endpoints)

    c = DrctlCollector(topo, prober=prober, fetch=fetch, journals=list,
                       backups=dict, plan=lambda: {"drill-overdue": []},
                       config=ExporterConfig(etcd_endpoints=()))  # not the lab's etcd  # fmt: skip
    return {family.name for family in c.collect()}


def recorded_names() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "monitoring" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names


def test_every_panel_queries_only_known_metrics() -> None:
    known = exported_names() | recorded_names() | PROMETHEUS_OWN
    assert "drctl_site_up" in known and "drctl:system_last_drill_timestamp_seconds" in known
    for panel in panels():
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            unknown = metric_names(target["expr"]) - known
            assert not unknown, f"panel {panel['title']!r} queries unknown {sorted(unknown)}"


def test_the_dashboard_covers_health_replication_objectives_and_drills() -> None:
    rows = [p["title"] for p in dashboard()["panels"] if p["type"] == "row"]
    for title in ("Estate health", "Replication", "Objectives vs measured", "Drills"):
        assert title in rows
    used = set().union(*(metric_names(t["expr"]) for p in panels() for t in p["targets"]))
    for name in (
        "drctl_site_up",
        "drctl_replication_lag_seconds",
        "drctl_replication_lag_bytes",
        "drctl_objective_rto_seconds",
        "drctl_drill_rto_seconds",
        "drctl_objective_rpo_seconds",
        "drctl_drill_rpo_seconds",
        "drctl_drill_writes_lost",
        "drctl_drill_last_run_timestamp_seconds",
        "drctl_backup_last_success_timestamp_seconds",
        "drctl_plan_stale",
    ):
        assert name in used, f"no panel shows {name}"


def test_panels_are_well_formed_and_do_not_overlap() -> None:
    doc = dashboard()
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    assert doc["templating"]["list"][0]["name"] == "datasource"
    cells: set[tuple[int, int]] = set()
    for p in doc["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24
        area = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not area & cells, f"panel {p['title']!r} overlaps another"
        cells |= area
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}"
            refs = [t["refId"] for t in p["targets"]]
            assert len(refs) == len(set(refs))
            assert all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"])
