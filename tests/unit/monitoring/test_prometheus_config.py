"""prometheus.yml generated from the topology: every service the topology implies is a target."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from drctl.topology import DEFAULT_PATH, load_topology
from drctl.topology.model import SiteService, Topology
from monitoring.prometheus_config import Settings, config, main, render

PROMTOOL = shutil.which("promtool")


@pytest.fixture(scope="module")
def topo() -> Topology:
    return load_topology(DEFAULT_PATH)


def targets(doc: dict[str, Any], job: str) -> dict[str, dict[str, str]]:
    """{address:port: labels} of one job."""
    [scrape] = [s for s in doc["scrape_configs"] if s["job_name"] == job]
    return {
        t: group.get("labels", {}) for group in scrape["static_configs"] for t in group["targets"]
    }


def test_every_node_exporter_is_scraped_with_its_site(topo: Topology) -> None:
    nodes = targets(config(topo), "node")
    sites = topo.sites_with(SiteService.NODE_EXPORTER)
    assert len(nodes) == len(sites) == 11
    for site in sites:
        assert nodes[f"{site.lab_address}:{topo.ports.node_exporter}"] == {"site": site.name}


def test_patroni_and_the_apps_are_scraped_at_every_site_of_their_system(topo: Topology) -> None:
    doc = config(topo)
    patroni, apps = targets(doc, "patroni"), targets(doc, "apps")
    assert patroni["127.10.1.1:8008"] == {"cluster": "ecm-db", "site": "brindisi", "system": "ecm"}
    assert patroni["127.10.2.1:8009"] == {"cluster": "crm-db", "site": "valencia", "system": "crm"}
    assert apps["127.10.2.1:8080"] == {"site": "valencia", "system": "ecm"}
    assert apps["127.10.1.1:8081"] == {"site": "brindisi", "system": "crm"}
    assert len(patroni) == len(apps) == 4


def test_the_exporter_keeps_its_own_site_and_system_labels(topo: Topology) -> None:
    doc = config(topo)
    assert targets(doc, "drctl") == {"127.10.3.1:9180": {}}
    [drctl] = [s for s in doc["scrape_configs"] if s["job_name"] == "drctl"]
    assert drctl["honor_labels"] is True
    assert targets(doc, "prometheus") == {"127.10.3.1:9090": {"site": "newyork"}}


def test_lab_intervals_are_seconds_and_rule_files_are_listed(topo: Topology) -> None:
    doc = config(topo, settings=Settings(rule_files=("/etc/prometheus/rules/*.yml",)))
    assert doc["global"]["scrape_interval"] == doc["global"]["evaluation_interval"] == "2s"
    assert doc["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_production_addresses_replace_the_lab_ones(topo: Topology) -> None:
    doc = config(topo, {"brindisi": "10.1.0.10", "newyork": "10.3.0.10"})
    assert "10.1.0.10:8008" in targets(doc, "patroni")
    assert "10.3.0.10:9180" in targets(doc, "drctl")
    assert "127.10.2.1:8008" in targets(doc, "patroni")  # not given: the lab address


def test_an_address_for_an_unknown_site_is_refused(topo: Topology) -> None:
    with pytest.raises(ValueError, match="atlantis"):
        config(topo, {"atlantis": "10.9.9.9"})


@pytest.mark.parametrize("interval", ["2", "two seconds", "-1s", ""])
def test_a_bad_duration_is_refused(interval: str) -> None:
    with pytest.raises(ValueError, match="scrape_interval"):
        Settings(scrape_interval=interval)


def test_the_command_writes_what_render_returns(topo: Topology, tmp_path: Path) -> None:
    out = tmp_path / "prometheus.yml"
    assert main(["--output", str(out), "--site-address", "brindisi=10.1.0.10"]) == 0
    assert out.read_text() == render(topo, {"brindisi": "10.1.0.10"})
    assert yaml.safe_load(out.read_text())["scrape_configs"]


def test_the_command_reports_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--site-address", "atlantis=10.9.9.9"]) == 1
    assert "atlantis" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--site-address", "no-equals-sign"])


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: prometheus)")
def test_promtool_accepts_the_generated_configuration(topo: Topology, tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(render(topo, settings=Settings(rule_files=(str(tmp_path / "*.yml"),))))
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
