"""Serve the drctl collector's metrics over HTTP (/metrics) on an explicit registry."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from drctl.topology.model import SiteService, Topology
from monitoring.collector import DrctlCollector


def default_listen(topo: Topology) -> tuple[str, int]:
    """The lab address of the site that runs the exporter (newyork), on ports.exporter."""
    sites = topo.sites_with(SiteService.EXPORTER)
    if not sites:
        raise ValueError("no site in the topology runs the drctl exporter")
    return str(sites[0].lab_address), topo.ports.exporter


def build_registry(collector: DrctlCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def serve(registry: CollectorRegistry, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Start serving in a daemon thread; port 0 picks a free port (see server.server_port)."""
    return start_http_server(port, addr=host, registry=registry)
