"""drctl exporter [--listen ADDR:PORT]: serve the drctl metrics for Prometheus."""

from __future__ import annotations

import argparse
import logging
import threading
from pathlib import Path

from drctl.errors import DrctlError
from drctl.topology import DEFAULT_PATH, Topology, load_topology
from monitoring.collector import DrctlCollector
from monitoring.config import ExporterConfig
from monitoring.exporter import build_registry, default_listen, serve
from monitoring.sources import DEFAULT_BACKUP_STATUS, backup_status_file


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("exporter", help="serve drctl's Prometheus metrics on /metrics")
    parser.add_argument(
        "--listen",
        metavar="ADDR:PORT",
        help="default: the exporter site's lab address and ports.exporter (127.10.3.1:9180)",
    )
    parser.add_argument("--topology", type=Path, default=DEFAULT_PATH)
    parser.add_argument(
        "--haproxy-stats-url",
        help="the front door's stats CSV (default http://<front door>:8404/stats;csv)",
    )
    parser.add_argument("--backup-status", type=Path, default=DEFAULT_BACKUP_STATUS)
    parser.add_argument(
        "--site-address",
        action="append",
        default=[],
        metavar="SITE=ADDRESS",
        help="where a site is, when not at its lab address (repeat per site)",
    )
    parser.set_defaults(func=_run)


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise DrctlError(f"--listen: expected ADDR:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def parse_site_addresses(items: list[str], topo: Topology) -> dict[str, str]:
    out = {}
    for item in items:
        site, sep, address = item.partition("=")
        if not sep or not site or not address:
            raise DrctlError(f"--site-address: expected SITE=ADDRESS, got {item!r}")
        if site not in {s.name for s in topo.sites}:
            raise DrctlError(f"--site-address: no site {site!r} in the topology")
        out[site] = address
    return out


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    topo = load_topology(args.topology)
    host, port = parse_listen(args.listen) if args.listen else default_listen(topo)
    config = ExporterConfig(
        haproxy_stats_url=args.haproxy_stats_url,
        topology_path=args.topology,
        site_addresses=parse_site_addresses(args.site_address, topo),
    )
    collector = DrctlCollector(topo, backups=backup_status_file(args.backup_status), config=config)
    try:
        server, thread = serve(build_registry(collector), host, port)
    except OSError as exc:
        raise DrctlError(f"cannot listen on {host}:{port}: {exc}") from exc
    print(f"drctl exporter: serving http://{host}:{server.server_port}/metrics", flush=True)
    try:
        threading.Event().wait()  # until interrupted; the server thread is a daemon
    finally:
        server.shutdown()
        thread.join(timeout=5)
    return 0
