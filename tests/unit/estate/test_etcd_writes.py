"""Writes to etcd from the drill engine (release a fenced leader's lock, forget a cluster) are
retried over the members until a deadline: after a site loss the survivors may still be electing
etcd's next raft leader, and every write waits or fails until they have."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drctl.errors import EstateError
from drctl.estate.patroni import Cluster
from drctl.topology import DEFAULT_PATH, load_topology

HOST = "127.0.0.1"


class Electing(ThreadingHTTPServer):
    """An etcd member that answers 503 (as etcd's gateway does while there is no raft leader)
    until `unavailable` requests have been refused, then succeeds."""

    def __init__(self, unavailable: int) -> None:
        super().__init__((HOST, 0), _Handler)
        self.unavailable = unavailable
        self.requests: list[tuple[str, dict[str, object]]] = []


class _Handler(BaseHTTPRequestHandler):
    server: Electing

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body))
        if len(self.server.requests) <= self.server.unavailable:
            self.send_response(503)
            answer = b'{"error":"etcdserver: no leader","code":14}'
        else:
            self.send_response(200)
            answer = b'{"succeeded":true,"deleted":"3"}'
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def electing() -> Iterator[Electing]:
    server = Electing(unavailable=3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _cluster(*endpoints: str) -> Cluster:
    topo = load_topology(DEFAULT_PATH)
    cluster = Cluster(topo, topo.system("ecm"), {s.name: HOST for s in topo.sites})
    cluster.etcd_endpoints = lambda: list(endpoints)  # type: ignore[method-assign]
    return cluster


def test_a_lock_release_waits_out_an_election(electing: Electing) -> None:
    fenced = f"http://{HOST}:{_closed_port()}"  # the lost site's member: refused
    cluster = _cluster(fenced, f"http://{HOST}:{electing.server_port}")
    assert cluster.clear_leader_lock("brindisi", timeout=10) is True
    assert len(electing.requests) == 4  # three refused during the "election", then done
    path, txn = electing.requests[-1]
    assert path == "/v3/kv/txn" and "compare" in txn


def test_forget_waits_out_an_election(electing: Electing) -> None:
    assert _cluster(f"http://{HOST}:{electing.server_port}").forget(timeout=10) == 3


def test_with_no_member_answering_in_time_the_error_says_so() -> None:
    cluster = _cluster(f"http://{HOST}:{_closed_port()}", f"http://{HOST}:{_closed_port()}")
    started = time.monotonic()
    with pytest.raises(EstateError, match=r"no etcd member answers within 0.6 s"):
        cluster.clear_leader_lock("brindisi", timeout=0.6)
    assert 0.6 <= time.monotonic() - started < 3
