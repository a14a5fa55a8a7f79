"""Fakes for the exporter's tests: Patroni and the front door's HAProxy answered by
`http.server` on loopback, the lab's topology with its Patroni ports moved to free ones.

Sites sit at their own loopback addresses, as in the lab: the preferred primary (brindisi) at
127.0.0.1 and the standby (valencia) at 127.0.0.2, so "the primary's Patroni does not answer"
is one server stopped. Answers are HTTP/1.0 and close the connection, as Patroni's do.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from drctl.topology.model import Topology

FIXTURES = Path(__file__).parent / "fixtures"
PRIMARY, STANDBY, ELSEWHERE = "127.0.0.1", "127.0.0.2", "127.0.0.3"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@dataclass
class Route:
    body: str
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        address, port = self.server.server_address[:2]
        key = (str(address), int(port), self.path)
        self.server.fake.hits[key] += 1
        route = self.server.fake.routes.get(key)
        if route is None:
            self.send_error(404)
            return
        if route.delay:
            time.sleep(route.delay)
        data = route.body.encode()
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHttp

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up waiting (the timeout tests) is what is being tested


class FakeHttp:
    """http.server instances on loopback addresses, answering from a routing table."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, int, str], Route] = {}
        self.hits: Counter[tuple[str, int, str]] = Counter()
        self.servers: dict[tuple[str, int], _Server] = {}

    def listen(self, address: str, port: int = 0) -> int:
        server = _Server((address, port), _Handler)
        server.fake = self
        port = int(server.server_address[1])
        self.servers[(address, port)] = server
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        return port

    def listen_everywhere(self, addresses: list[str]) -> int:
        """One port free at every address, listened on at each."""
        for _ in range(50):
            port = _free_port(addresses[0])
            try:
                for address in addresses:
                    self.listen(address, port)
            except OSError:
                self.stop_port(port)
                continue
            return port
        raise RuntimeError("no port free at every address")

    def route(self, address: str, port: int, path: str, body: str, **kw: Any) -> None:
        self.routes[(address, port, path)] = Route(body, **kw)

    def stop(self, address: str, port: int) -> None:
        server = self.servers.pop((address, port))
        server.shutdown()
        server.server_close()

    def stop_port(self, port: int) -> None:
        for address, p in list(self.servers):
            if p == port:
                self.stop(address, p)

    def close(self) -> None:
        for address, port in list(self.servers):
            self.stop(address, port)


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


@dataclass
class FakeEstate:
    """The lab's topology, its Patroni REST APIs and its front door, faked on loopback."""

    topo: Topology
    http: FakeHttp
    addresses: dict[str, str]
    stats_url: str

    def patroni_port(self, system: str) -> int:
        return self.topo.system(system).database.patroni_port

    def cluster(self, system: str, *, at: str = PRIMARY, **kw: Any) -> None:
        """Serve `GET /cluster` for the system at one site, from the fixture (or `members`)."""
        members = kw.pop("members", None)
        doc = cluster_doc(system, self.patroni_port(system)) if members is None else members
        self.http.route(at, self.patroni_port(system), "/cluster", json.dumps(doc), **kw)

    def replica_status(self, system: str, replayed: str | None, **kw: Any) -> None:
        doc = json.loads(fixture_text("patroni-replica-ecm.json"))
        doc["xlog"]["replayed_timestamp"] = replayed
        self.http.route(STANDBY, self.patroni_port(system), "/patroni", json.dumps(doc), **kw)

    def front_door(self, fixture: str) -> None:
        port = int(self.stats_url.rsplit(":", 1)[1].split("/")[0])
        text = fixture_text(fixture)
        self.http.route(ELSEWHERE, port, "/stats;csv", text, content_type="text/plain")


def cluster_doc(system: str, port: int, replica_lag: Any = 0) -> dict[str, Any]:
    """The lab's `/cluster` of ecm-db (fixture), renamed for `system`, with loopback URLs."""
    text = fixture_text("patroni-cluster-ecm.json").replace("ecm-db", f"{system}-db")
    text = text.replace("127.10.1.1:8008", f"{PRIMARY}:{port}")
    text = text.replace("127.10.2.1:8008", f"{STANDBY}:{port}")
    doc: dict[str, Any] = json.loads(text)
    doc["members"][1]["lag"] = replica_lag
    return doc
