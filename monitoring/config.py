"""Exporter settings that are not in the topology."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from drctl import REPO_ROOT
from drctl.estate.patroni import NAMESPACE
from drctl.topology.load import DEFAULT_PATH
from drctl.topology.model import Topology

HAPROXY_STATS_PORT = 8404  # the front door's stats listener (not yet a topology port)


@dataclass(frozen=True)
class ExporterConfig:
    probe_timeout_seconds: float = 0.5
    http_timeout_seconds: float = 0.8
    # Patroni's two rounds together stay within this, so Prometheus (scrape timeout 2 s in the
    # lab) still gets an answer while a partitioned site lets every connection time out.
    scrape_budget_seconds: float = 1.5
    # Patroni's state is read from etcd in one request (monitoring.patroni), from these members
    # (host, port) in order; None: every etcd site's address at ports.etcd_client; (): no etcd,
    # Patroni's REST API only. Patroni's `namespace` (roles/patroni).
    etcd_endpoints: Sequence[tuple[str, int]] | None = None
    etcd_namespace: str = NAMESPACE
    # then Patroni's REST API is asked, within what is left of scrape_budget_seconds
    etcd_timeout_seconds: float = 0.5
    # None: http://<front door's address>:8404/stats;csv
    haproxy_stats_url: str | None = None
    # {site: address} where the estate is not at the topology's lab addresses (production)
    site_addresses: Mapping[str, str] | None = None
    # False: a site is up when any of its endpoints answers (it is powered and reachable);
    # True: only when all of them answer. drctl_site_endpoints_answering shows the detail.
    require_all_endpoints: bool = False
    # With "any": how many endpoints per site to probe (its own services first).
    max_probes_per_site: int = 8
    max_workers: int = 8
    # what drctl.plan.check.staleness(topology_path, data_dir, journals_dir, plan_dir) reads
    topology_path: Path = DEFAULT_PATH
    plan_data_dir: Path = REPO_ROOT / "inventories"
    plan_dir: Path = REPO_ROOT / "runbooks"

    def stats_url(self, topo: Topology) -> str:
        if self.haproxy_stats_url:
            return self.haproxy_stats_url
        address = (self.site_addresses or {}).get(topo.front_door.name)
        return f"http://{address or topo.front_door.lab_address}:{HAPROXY_STATS_PORT}/stats;csv"
