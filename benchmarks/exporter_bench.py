"""Scrape the drctl exporter over a generated estate: 1,000 systems on 50 sites (target ≤ 100 ms).

Every source the collector reads is real I/O, served locally: a real etcd (Debian's `etcd`)
holds the 1,000 Patroni clusters' keys as Patroni 4 writes them (leader, status, members, ...),
read in one request; a second process answers like Patroni's REST API (`/patroni` on the
replicas that lag, `/cluster` at each system's sites for the fallback; HTTP/1.0 and one
connection per request as Patroni does), like the front door's HAProxy (`/stats;csv` with 1,000
backends) and like the sites' node exporters (TCP probes); drill journals and the backup status
are files in a temporary directory. The plan's staleness is a canned answer: computing it
renders the plan (benchmarks/plan_bench.py), which needs its own cadence at this size.

Figures, medians of the timed runs: the collector's collect() (every source read, every metric
family built) and a whole scrape through HTTP as Prometheus does it (GET /metrics on the
exporter's own server: collect, then the text exposition (monitoring.exposition) and gzip), each
against the target, and the same scrape as Prometheus asks for it (OpenMetrics first); then the
exposition and gzip alone, each source read alone, and collect() with etcd down (every
cluster's `/cluster` asked instead).
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import multiprocessing
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.core import Metric

from benchmarks.machine import reference_ms
from drctl.topology import load_topology
from drctl.topology.model import Topology
from drills.journal import Journal, Status, SystemResult
from monitoring import etcd
from monitoring.collector import DrctlCollector
from monitoring.config import HAPROXY_STATS_PORT, ExporterConfig
from monitoring.exporter import GZIP_LEVEL, build_registry, serve
from monitoring.exposition import Format, render
from monitoring.sources import backup_status_file, journal_source

SYSTEMS, SITES = 1000, 50
TARGET_MS = 100.0
RUNS, WARMUP = 20, 3
FALLBACK_RUNS = 7
LAGGING_EVERY = 20  # one system in 20 has a replica that is behind (a second request)
NOW = time.time()


# --- the estate -------------------------------------------------------------------------------


def _address(i: int) -> str:
    return f"127.201.{i // 200}.{i % 200 + 1}"


def estate(n_systems: int = SYSTEMS, n_sites: int = SITES) -> dict[str, Any]:
    """A front door, headquarters (etcd, Prometheus, the exporter), data centres and hubs."""
    n_edc = (n_sites - 2) * 3 // 5
    roles = ["front-door", "headquarters", "primary-edc"] + ["secondary-edc"] * (n_edc - 1)
    roles += ["regional-hub"] * (n_sites - len(roles))
    services = {
        "front-door": ["front-door", "node-exporter"],
        "headquarters": ["etcd", "prometheus", "drctl-exporter", "node-exporter"],
        "primary-edc": ["etcd", "haproxy", "node-exporter"],
        "secondary-edc": ["haproxy", "node-exporter"],
        "regional-hub": ["hub-cache", "node-exporter"],
    }
    sites: list[dict[str, Any]] = [
        {
            "name": f"site-{i:02d}",
            "role": role,
            "location": f"Duty station {i}",
            "country": f"Country {i}",
            "lab_address": _address(i),
            "distance_km": 100 * i,
            "team": f"Site {i} team",
            "services": services[role],
        }
        for i, role in enumerate(roles)
    ]
    edcs = [s["name"] for s in sites if s["role"].endswith("-edc")]
    systems: list[dict[str, Any]] = []
    for i in range(n_systems):
        tier = 1 if i % 10 == 0 else 2
        system = {
            "name": f"sys-{i:04d}",
            "title": f"Generated system {i}",
            "tier": tier,
            "objectives": {"rto_seconds": 60 if tier == 1 else 900, "rpo_seconds": 0},
            "recovery_order": 1,
            "placement": [edcs[i % len(edcs)], edcs[(i + 1) % len(edcs)]],
            "replication": "synchronous" if tier == 1 else "asynchronous",
            "database": {
                "cluster": f"sys-{i:04d}-db",
                "port": 10000 + i,
                "patroni_port": 20000 + i,
                "router_port": 30000 + i,
            },
        }
        if i % 2 == 0:
            system["app"] = {"port": 40000 + i}
        systems.append(system)
    tiers = [
        {"level": 1, "name": "mission-critical", "replication": "synchronous",
         "drill_every_days": 90},
        {"level": 2, "name": "critical", "replication": "asynchronous", "drill_every_days": 180},
    ]  # fmt: skip
    return {"version": 1, "organisation": "Generated", "tiers": tiers, "sites": sites,
            "systems": systems}  # fmt: skip


# --- what the fakes answer ------------------------------------------------------------------


# {path: (body, content type)} served at one address and port; None: accept and close (a probe)
Paths = dict[str, tuple[str, str]] | None
JSON = "application/json"


def _http(answer: tuple[str, str] | None) -> bytes:
    if answer is None:
        return b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    body, content_type = answer
    data = body.encode()
    head = f"HTTP/1.0 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
    return head.encode() + b"\r\n" + data


def answers(topo: Topology) -> dict[tuple[str, int], Paths]:
    """{(address, port): what is answered there}: every member's Patroni answers /cluster, the
    replicas that lag answer /patroni too; the front door answers /stats;csv."""
    out: dict[tuple[str, int], Paths] = {}
    for site in topo.sites:
        out[(str(site.lab_address), topo.ports.node_exporter)] = None
    replayed = datetime.fromtimestamp(NOW - 3, UTC).isoformat()
    for i, system in enumerate(topo.systems):
        primary, replica = (topo.site(s) for s in system.placement)
        port = system.database.patroni_port
        lag = 4096 if i % LAGGING_EVERY == 0 else 0
        members = [
            {"name": f"{system.database.cluster}-{primary.name}", "role": "leader",
             "state": "running", "host": str(primary.lab_address), "port": system.database.port,
             "api_url": f"http://{primary.lab_address}:{port}/patroni", "timeline": 1},
            {"name": f"{system.database.cluster}-{replica.name}",
             "role": "sync_standby" if system.tier == 1 else "replica",
             "state": "streaming", "host": str(replica.lab_address), "port": system.database.port,
             "api_url": f"http://{replica.lab_address}:{port}/patroni", "timeline": 1,
             "lag": lag},
        ]  # fmt: skip
        cluster = (json.dumps({"members": members}), JSON)
        status = {"state": "streaming", "role": "replica", "xlog": {"replayed_timestamp": replayed}}
        out[(str(primary.lab_address), port)] = {"/cluster": cluster}
        replica_status = (json.dumps(status), JSON)
        out[(str(replica.lab_address), port)] = {"/cluster": cluster, "/patroni": replica_status}
    stats = (str(topo.front_door.lab_address), HAPROXY_STATS_PORT)
    out[stats] = {"/stats;csv": (haproxy_csv(topo), "text/plain")}
    return out


def patroni_keys(topo: Topology, namespace: str = "/drctl/") -> dict[str, str]:
    """{key: value} of every cluster as Patroni 4.1 keeps it in etcd (as read in the lab):
    config, initialize, leader, status, sync (synchronous clusters) and one key per member."""
    out: dict[str, str] = {}
    config = {
        "ttl": 20, "loop_wait": 1, "retry_timeout": 5, "maximum_lag_on_failover": 1048576,
        "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": {
            "wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on",
            "max_wal_senders": 10, "max_replication_slots": 10, "wal_keep_size": "256MB",
            "archive_mode": "on", "archive_command": "/bin/true"}},
    }  # fmt: skip
    for i, system in enumerate(topo.systems):
        db = system.database
        base = f"{namespace}{db.cluster}/"
        primary, replica = (topo.site(s) for s in system.placement)
        leader, standby = f"{db.cluster}-{primary.name}", f"{db.cluster}-{replica.name}"
        lsn = 0x9000000 + i * 8192
        behind = 4096 if i % LAGGING_EVERY == 0 else 0
        slots = {name.replace("-", "_"): lsn for name in (leader, standby)}
        synchronous = system.replication == "synchronous"
        out[base + "config"] = _compact({**config, "synchronous_mode": synchronous})
        out[base + "initialize"] = str(7_300_000_000_000_000_000 + i)
        out[base + "leader"] = leader
        out[base + "status"] = _compact(
            {"optime": lsn, "slots": slots, "retain_slots": sorted(slots)}
        )
        if synchronous:
            out[base + "sync"] = _compact({"leader": leader, "quorum": 0, "sync_standby": standby})
        out[base + "members/" + leader] = _compact({
            "conn_url": f"postgres://{primary.lab_address}:{db.port}/postgres",
            "api_url": f"http://{primary.lab_address}:{db.patroni_port}/patroni",
            "state": "running", "role": "primary", "version": "4.1.5", "xlog_location": lsn,
            "timeline": 1,
        })  # fmt: skip
        out[base + "members/" + standby] = _compact({
            "conn_url": f"postgres://{replica.lab_address}:{db.port}/postgres",
            "api_url": f"http://{replica.lab_address}:{db.patroni_port}/patroni",
            "state": "running", "role": "replica", "version": "4.1.5",
            "xlog_location": lsn - behind, "replay_lsn": lsn - behind,
            "receive_lsn": lsn - behind, "replication_state": "streaming", "timeline": 1,
        })  # fmt: skip
    return out


def _compact(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))  # as Patroni writes its keys


def haproxy_csv(topo: Topology) -> str:
    lines = ["# pxname,svname,status,act,bck,addr,"]
    for system in topo.systems:
        if system.app is None:
            continue
        lines.append(f"{system.name},FRONTEND,OPEN,,,,")
        for k, site in enumerate(system.placement):
            addr = f"{topo.site(site).lab_address}:{system.app.port}"
            lines.append(f"{system.name},{site},UP,{1 - min(k, 1)},{min(k, 1)},{addr},")
        lines.append(f"{system.name},BACKEND,UP,1,1,,")
    return "\n".join(lines) + "\n"


def _serve(routes: dict[tuple[str, int], Paths], ready: Any) -> None:
    """The fake estate in Python: answer each request from its listener's paths, then close."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sel = selectors.DefaultSelector()
    for (host, port), paths in routes.items():
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, port))
        ls.listen(256)
        ls.setblocking(False)
        answers = None if paths is None else {p.encode(): _http(a) for p, a in paths.items()}
        sel.register(ls, selectors.EVENT_READ, (True, answers))
    ready.set()
    while True:
        for key, _ in sel.select():
            listening, answers = key.data
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            if listening:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    continue
                if answers is None:
                    conn.close()
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, (False, answers))
                continue
            sel.unregister(sock)
            try:
                request = sock.recv(4096)  # one small request, in one segment on loopback
                path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
                sock.setblocking(True)
                sock.sendall(answers.get(path, _http(None)))
            except OSError:
                pass
            sock.close()


def _nginx_conf(routes: dict[tuple[str, int], Paths], root: Path) -> str:
    servers = []
    for i, ((host, port), paths) in enumerate(sorted(routes.items())):
        if paths is None:
            locations = "location / { return 444; }"  # accept, then close without a word
        else:
            locations = ""
            for k, (path, (body, content_type)) in enumerate(paths.items()):
                (root / f"{i}-{k}.answer").write_text(body, encoding="utf-8")
                locations += (
                    f'location = "{path}" {{ default_type {content_type}; '
                    f"try_files /{i}-{k}.answer =404; }} "
                )
        servers.append(f"server {{ listen {host}:{port}; root {root}; {locations}}}")
    temp = " ".join(
        f"{kind}_temp_path {root}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off; master_process off; pid {root}/nginx.pid; error_log {root}/error.log crit;\n"
        f"worker_rlimit_nofile 16384; events {{ worker_connections 8192; }}\n"
        f"http {{ access_log off; keepalive_timeout 0; {temp}\n" + "\n".join(servers) + "\n}\n"
    )


@contextmanager
def fake_estate(topo: Topology) -> Iterator[str]:
    """Serve the estate's answers: with nginx when installed (its C costs little, as 1,000
    Patroni servers on their own hosts would), else (or with DRCTL_BENCH_PYTHON_SERVER=1) with
    a Python process."""
    routes = answers(topo)
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if nginx and not os.environ.get("DRCTL_BENCH_PYTHON_SERVER"):
        with tempfile.TemporaryDirectory(prefix="drctl-bench-nginx-") as tmp:
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(_nginx_conf(routes, Path(tmp)))
            proc = subprocess.Popen([nginx, "-c", str(conf), "-p", tmp], stderr=subprocess.PIPE)
            try:
                _wait_listening(next(iter(routes)), proc)
                yield "nginx"
            finally:
                proc.terminate()
                proc.wait(10)
        return
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    server = ctx.Process(target=_serve, args=(routes, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the fake estate did not start")
        yield "python"
    finally:
        server.terminate()
        server.join(5)


def _wait_listening(hp: tuple[str, int], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"nginx exited: {err}")
        try:
            socket.create_connection(hp, timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the fake estate did not start")


ETCD_HOST = "127.202.0.1"


@contextmanager
def real_etcd(keys: dict[str, str]) -> Iterator[tuple[str, int]]:
    """A one-member etcd on a free port at ETCD_HOST, holding `keys`; stopped on leaving."""
    binary = shutil.which("etcd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin")
    if binary is None:
        raise RuntimeError("etcd is not installed (Debian: apt-get install etcd-server)")
    client, peer = _free_port(ETCD_HOST), _free_port(ETCD_HOST)
    with tempfile.TemporaryDirectory(prefix="drctl-bench-etcd-") as tmp:
        url, peer_url = f"http://{ETCD_HOST}:{client}", f"http://{ETCD_HOST}:{peer}"
        proc = subprocess.Popen(
            [binary, "--name", "bench", "--data-dir", f"{tmp}/data",
             "--listen-client-urls", url, "--advertise-client-urls", url,
             "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
             "--initial-cluster", f"bench={peer_url}", "--logger", "zap", "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            _wait_etcd(url, proc)
            items = list(keys.items())
            for k in range(0, len(items), 100):  # etcd takes up to 128 operations a txn
                puts = [{"request_put": {"key": _b64(key), "value": _b64(value)}}
                        for key, value in items[k : k + 100]]  # fmt: skip
                _post(f"{url}/v3/kv/txn", {"success": puts})
            yield ETCD_HOST, client
        finally:
            proc.terminate()
            proc.wait(10)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _post(url: str, doc: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, json.dumps(doc).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait_etcd(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"etcd exited: {err}")
        try:
            _post(f"{url}/v3/kv/range", {"key": _b64("/")})
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("etcd did not start")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def write_journals(directory: Path, topo: Topology) -> int:
    """The last runs of drills covering every tier-1 system, ten systems a drill, two runs each."""
    tier1 = [s for s in topo.systems if s.tier == 1]
    n = 0
    for k in range(0, len(tier1), 10):
        for run in range(2):
            started = NOW - 86400 * (40 - run * 20)
            results = {
                s.name: SystemResult(
                    system=s.name, objective_rto_seconds=60, objective_rpo_seconds=0,
                    t0=started + 30, t1=started + 55 + j, rto_seconds=25.0 + j, rpo_seconds=0.0,
                    writes_acknowledged=1000,
                )
                for j, s in enumerate(tier1[k : k + 10])
            }  # fmt: skip
            Journal(
                drctl_version="0.1.0", run_id=f"bench-{k:04d}-{run}", drill_id=f"site-loss-{k:04d}",
                drill={"systems": list(results)}, target="lab", mode="disruptive",
                platform={"system": "Linux"}, topology_sha256="0" * 64, started_at=started,
                ended_at=started + 200, status=Status.SUCCEEDED, systems=results, result="passed",
            ).save(directory / f"bench-{k:04d}-{run}.json")  # fmt: skip
            n += 1
    return n


# what Prometheus 2.x sends: OpenMetrics 1.0.0 first
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def _scrape(url: str, accept: str | None = None) -> float:
    started = time.perf_counter()
    headers = {"Accept-Encoding": "gzip", **({"Accept": accept} if accept else {})}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def _collect(collector: DrctlCollector) -> tuple[float, float, list[Metric]]:
    started, cpu = time.perf_counter(), time.process_time()
    families = list(collector.collect())
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000, families


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _timed(read: Callable[[], object], runs: int = RUNS) -> float:
    """Median wall time of `read()` in ms."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    return _median(times)


def sources_alone(collector: DrctlCollector, endpoint: tuple[str, int]) -> dict[str, float]:
    """Each source read alone (its share of a scrape when nothing else runs), median ms."""
    prefix = collector._dcs.prefix
    return {
        "probes": _timed(collector._sites),
        "patroni": _timed(collector._lags),
        "  of which the etcd range": _timed(lambda: etcd.range_prefix([endpoint], prefix, 5)),
        "front door": _timed(collector._front_door),
        "journals": _timed(collector._drills),
        "backups": _timed(collector._backups),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="drctl-exporter-bench-") as tmp:
        root = Path(tmp)
        (root / "topology.yaml").write_text(yaml.safe_dump(estate(), sort_keys=False))
        topo = load_topology(root / "topology.yaml")
        journals = root / "journals"
        journals.mkdir()
        n_journals = write_journals(journals, topo)
        backups = root / "backup-status.json"
        backups.write_text(json.dumps({s.name: NOW - 3600 for s in topo.systems}))
        triggers = [f"trigger-{i}" for i in range(12)]
        keys = patroni_keys(topo)

        def collector(etcd_at: tuple[str, int]) -> DrctlCollector:
            return DrctlCollector(
                topo,
                journals=journal_source(journals),
                backups=backup_status_file(backups),
                plan=lambda: {t: [] for t in triggers},
                # generous timeouts: on a busy machine a slow answer must show in the figure,
                # not drop out of it as a failure
                config=ExporterConfig(
                    http_timeout_seconds=5,
                    scrape_budget_seconds=10,
                    etcd_endpoints=[etcd_at],
                    etcd_timeout_seconds=5,
                ),
            )

        with fake_estate(topo) as server_kind, real_etcd(keys) as etcd_at:
            c = collector(etcd_at)
            for _ in range(WARMUP):
                _collect(c)
            runs = [_collect(c) for _ in range(RUNS)]
            server, thread = serve(build_registry(c), "127.0.0.1", 0)
            url = f"http://127.0.0.1:{server.server_port}/metrics"
            try:
                for _ in range(WARMUP):
                    _scrape(url)
                scrapes = [_scrape(url) for _ in range(RUNS)]
                as_prometheus = [_scrape(url, PROMETHEUS_ACCEPT) for _ in range(RUNS)]
            finally:
                server.shutdown()
                thread.join(5)
            alone = sources_alone(c, etcd_at)
            text = render(runs[-1][2], Format.TEXT)
            writing = {
                "text exposition": _timed(lambda: render(runs[-1][2], Format.TEXT)),
                "gzip": _timed(lambda: gzip.compress(text, compresslevel=GZIP_LEVEL)),
            }
            # etcd down (nothing listens there): every cluster's /cluster instead; its warning
            # on each scrape is what an operator should see, but not between the figures here
            down = collector((ETCD_HOST, _free_port(ETCD_HOST)))
            patroni_log = logging.getLogger("monitoring.patroni")
            level = patroni_log.level
            patroni_log.setLevel(logging.ERROR)
            try:
                _collect(down)
                fallback = [_collect(down) for _ in range(FALLBACK_RUNS)]
            finally:
                patroni_log.setLevel(level)
    families = runs[-1][2]
    samples = sum(len(f.samples) for f in families)
    failed = [
        s.labels["source"] for f in families if f.name == "drctl_source_up"
        for s in f.samples if s.value == 0
    ]  # fmt: skip
    failed += [
        f"{s.labels['source']} (etcd down)" for f in fallback[-1][2]
        if f.name == "drctl_source_up" for s in f.samples if s.value == 0
    ]  # fmt: skip
    collect_ms, collect_cpu = _median([r[0] for r in runs]), _median([r[1] for r in runs])
    scrape_ms = _median(scrapes)
    lagging = SYSTEMS // LAGGING_EVERY
    print(
        f"exporter over {SYSTEMS} systems on {SITES} sites ({samples} samples; one etcd range "
        f"of {len(keys)} keys, {lagging} Patroni requests to {server_kind}, "
        f"{n_journals} journals), median of {RUNS}:\n"
        f"  collect (every source read, metric families built): {collect_ms:.1f} ms "
        f"({collect_cpu:.1f} ms CPU); target ≤ {TARGET_MS:g} ms: "
        + ("met" if collect_ms <= TARGET_MS else "MISSED")
        + f"\n  whole scrape over HTTP (collect, text exposition, gzip): "
        f"{scrape_ms:.1f} ms; target ≤ {TARGET_MS:g} ms: "
        + ("met" if scrape_ms <= TARGET_MS else "MISSED")
        + f"\n  the same as Prometheus asks for it (OpenMetrics): {_median(as_prometheus):.1f} ms"
        + "\n  writing the answer alone: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in writing.items())
        + f" ({len(text) / 1e6:.2f} MB of text)"
        + "\n  each source alone: "
        + ", ".join(f"{name.strip()} {ms:.1f} ms" for name, ms in alone.items())
        + f"\n  etcd down, {SYSTEMS + lagging} Patroni requests instead (median of "
        f"{FALLBACK_RUNS}): collect {_median([r[0] for r in fallback]):.1f} ms"
        f"\n  this machine's reference workload (benchmarks/machine.py): {reference_ms():.1f} ms"
    )
    if failed:
        raise RuntimeError(f"sources failed during the benchmark: {failed}")


if __name__ == "__main__":
    main()
