"""prometheus.yml generated from the topology: what exists is what gets scraped.

Jobs: `prometheus` (itself), `drctl` (the exporter), `node` (every site's node exporter),
`patroni` (Patroni's REST /metrics of every cluster member) and `apps` (each application's
/metrics at each site it is placed). Every target but the exporter carries `site`, and `system`
where it belongs to one, so rules and the dashboard group by the topology's names, not by
addresses; the exporter's series name their own site and system.

Run by the `prometheus` role with the repository's Python:
    python -m monitoring.prometheus_config --site-address brindisi=127.10.1.1 ... > prometheus.yml
Addresses default to the topology's lab addresses; a production inventory passes its own.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drctl.errors import DrctlError
from drctl.topology import DEFAULT_PATH, load_topology
from drctl.topology.model import SiteService, Topology

HEADER = "# Generated from the topology by `python -m monitoring.prometheus_config`; do not edit.\n"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


@dataclass(frozen=True)
class Settings:
    # The lab uses seconds, not Prometheus's minute, so an alert fires within seconds of a
    # fault injected by a drill (DrctlSiteDown within ~10 s of a site's power-off).
    scrape_interval: str = "2s"
    evaluation_interval: str = "2s"
    # the exporter answers within its own budget (ExporterConfig.scrape_budget_seconds, 1.5 s)
    scrape_timeout: str = "2s"
    rule_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("scrape_interval", "evaluation_interval", "scrape_timeout"):
            if not DURATION.match(getattr(self, name)):
                raise ValueError(f"{name}: {getattr(self, name)!r} is not a Prometheus duration")


def _target(address: str, port: int, **labels: str) -> dict[str, Any]:
    return {"targets": [f"{address}:{port}"], "labels": dict(sorted(labels.items()))}


def scrape_configs(topo: Topology, addresses: Mapping[str, str]) -> list[dict[str, Any]]:
    ports = topo.ports

    def sites(service: SiteService, port: int) -> list[dict[str, Any]]:
        return [_target(addresses[s.name], port, site=s.name) for s in topo.sites_with(service)]

    patroni = [
        _target(
            addresses[site],
            system.database.patroni_port,
            site=site,
            system=system.name,
            cluster=system.database.cluster,
        )
        for system in topo.systems
        for site in system.placement
    ]
    apps = [
        _target(addresses[site], system.app.port, site=site, system=system.name)
        for system in topo.systems
        if system.app is not None
        for site in system.placement
    ]
    # The exporter's series carry `site` and `system` of their own (drctl_site_up{site}): its
    # target gets no such label, and its labels win (honor_labels).
    exporter = [
        {"targets": [f"{addresses[s.name]}:{ports.exporter}"]}
        for s in topo.sites_with(SiteService.EXPORTER)
    ]
    jobs = [
        ("prometheus", sites(SiteService.PROMETHEUS, ports.prometheus)),
        ("drctl", exporter),
        ("node", sites(SiteService.NODE_EXPORTER, ports.node_exporter)),
        ("patroni", patroni),
        ("apps", apps),
    ]
    return [
        {
            "job_name": name,
            "metrics_path": "/metrics",
            **({"honor_labels": True} if name == "drctl" else {}),
            "static_configs": targets,
        }
        for name, targets in jobs
        if targets
    ]


def config(
    topo: Topology, addresses: Mapping[str, str] | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    settings = settings or Settings()
    where = {s.name: str(s.lab_address) for s in topo.sites}
    unknown = sorted(set(addresses or {}) - set(where))
    if unknown:
        raise ValueError(f"addresses given for sites not in the topology: {', '.join(unknown)}")
    where.update(addresses or {})
    doc: dict[str, Any] = {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "scrape_timeout": settings.scrape_timeout,
            "evaluation_interval": settings.evaluation_interval,
            "external_labels": {"estate": topo.organisation},
        },
    }
    if settings.rule_files:
        doc["rule_files"] = list(settings.rule_files)
    doc["scrape_configs"] = scrape_configs(topo, where)
    return doc


def render(
    topo: Topology, addresses: Mapping[str, str] | None = None, settings: Settings | None = None
) -> str:
    body = yaml.safe_dump(
        config(topo, addresses, settings), sort_keys=False, width=100, allow_unicode=True
    )
    return HEADER + body


def _site_address(text: str) -> tuple[str, str]:
    site, sep, address = text.partition("=")
    if not sep or not site or not address:
        raise argparse.ArgumentTypeError(f"expected SITE=ADDRESS, got {text!r}")
    return site, address


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.prometheus_config",
        description="Print prometheus.yml for the estate, generated from the topology.",
    )
    parser.add_argument("--topology", type=Path, default=DEFAULT_PATH)
    parser.add_argument(
        "--site-address",
        type=_site_address,
        action="append",
        default=[],
        metavar="SITE=ADDRESS",
        help="where a site is, when not at its lab address (repeat per site)",
    )
    defaults = Settings()
    parser.add_argument("--scrape-interval", default=defaults.scrape_interval)
    parser.add_argument("--scrape-timeout", default=defaults.scrape_timeout)
    parser.add_argument("--evaluation-interval", default=defaults.evaluation_interval)
    parser.add_argument(
        "--rule-files", action="append", default=[], metavar="GLOB", help="repeatable"
    )
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    args = parser.parse_args(argv)
    try:
        topo = load_topology(args.topology)
        settings = Settings(
            args.scrape_interval,
            args.evaluation_interval,
            args.scrape_timeout,
            tuple(args.rule_files),
        )
        text = render(topo, dict(args.site_address), settings)
    except (DrctlError, ValueError) as exc:
        print(f"prometheus_config: error: {exc}", file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
