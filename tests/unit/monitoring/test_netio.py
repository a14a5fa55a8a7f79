"""The exporter's non-blocking I/O: probes and HTTP/1.0 GETs, many at once, against real
sockets on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from monitoring_fakes import FakeHttp

from monitoring import netio

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that accepts connections (the backlog) but never answers."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        s.listen(16)
        yield int(s.getsockname()[1])


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes], int]]:
    """Serve one canned answer (raw bytes) to every connection, then close it."""
    sockets: list[socket.socket] = []

    def start(answer: bytes) -> int:
        s = socket.socket()
        s.bind((HOST, 0))
        s.listen(16)
        sockets.append(s)

        def loop() -> None:
            while True:
                try:
                    conn, _ = s.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(4096)
                    conn.sendall(answer)

        threading.Thread(target=loop, daemon=True).start()
        return int(s.getsockname()[1])

    yield start
    for s in sockets:
        s.close()


def test_probe_tells_listening_endpoints_from_closed_ones(silent: int) -> None:
    closed = _free_port()
    assert netio.probe([(HOST, silent), (HOST, closed)], 0.5) == {(HOST, silent)}


def test_probe_gives_up_on_an_endpoint_that_does_not_answer_in_time() -> None:
    """A listener whose accept queue is full drops new SYNs: the connection neither succeeds
    nor fails before the timeout."""
    with socket.socket() as full:
        full.bind((HOST, 0))
        full.listen(0)
        port = int(full.getsockname()[1])
        queued = [socket.create_connection((HOST, port), timeout=1)]  # backlog 0 holds one
        try:
            started = time.monotonic()
            assert netio.probe([(HOST, port)], 0.3) == set()
            assert time.monotonic() - started >= 0.3
        finally:
            for s in queued:
                s.close()


def test_probe_of_many_endpoints_at_once(silent: int) -> None:
    closed = [_free_port() for _ in range(50)]
    eps = [(HOST, port) for port in closed] + [(HOST, silent), ("127.0.0.2", silent)]
    assert netio.probe(eps, 0.5) == {(HOST, silent)}


def test_probe_of_nothing_is_nothing() -> None:
    assert netio.probe([], 0.5) == set()


def test_get_first_answers_every_group_in_order(fake_http: FakeHttp) -> None:
    port = fake_http.listen(HOST)
    for i in range(20):
        fake_http.route(HOST, port, f"/n/{i}", f"answer {i}")
    urls = [[f"http://{HOST}:{port}/n/{i}"] for i in range(20)]
    assert netio.get_first(urls, 2.0) == [f"answer {i}" for i in range(20)]


def test_a_refused_url_falls_through_to_the_next(fake_http: FakeHttp) -> None:
    port = fake_http.listen(HOST)
    fake_http.route(HOST, port, "/cluster", "from the standby")
    dead = f"http://{HOST}:{_free_port()}/cluster"
    started = time.monotonic()
    [body] = netio.get_first([[dead, f"http://{HOST}:{port}/cluster"]], 2.0, stagger=1.0)
    assert body == "from the standby"
    assert time.monotonic() - started < 0.5  # no waiting for the stagger


def test_a_silent_url_is_raced_by_the_next_after_the_stagger(
    fake_http: FakeHttp, silent: int
) -> None:
    port = fake_http.listen(HOST)
    fake_http.route(HOST, port, "/cluster", "from the standby")
    started = time.monotonic()
    urls = [f"http://{HOST}:{silent}/cluster", f"http://{HOST}:{port}/cluster"]
    [body] = netio.get_first([urls], 2.0, stagger=0.2)
    elapsed = time.monotonic() - started
    assert body == "from the standby"
    assert 0.2 <= elapsed < 1.0


def test_when_nothing_answers_the_error_names_every_url(silent: int) -> None:
    dead = _free_port()
    urls = [f"http://{HOST}:{silent}/x", f"http://{HOST}:{dead}/x"]
    started = time.monotonic()
    [result] = netio.get_first([urls], 0.5, stagger=0.1)
    assert time.monotonic() - started < 1.0
    assert isinstance(result, ConnectionError)
    assert f"{HOST}:{silent}/x: no answer within 0.5 s" in str(result)
    assert f"{HOST}:{dead}/x: Connection refused" in str(result)


def test_a_non_2xx_answer_is_an_http_error(fake_http: FakeHttp) -> None:
    port = fake_http.listen(HOST)
    fake_http.route(HOST, port, "/primary", "not the leader", status=503)
    [result] = netio.get_first([[f"http://{HOST}:{port}/primary"]], 1.0)
    assert isinstance(result, netio.HttpError)
    assert "503" in str(result)
    with pytest.raises(netio.HttpError):
        netio.get(f"http://{HOST}:{port}/missing", 1.0)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end", "to the end"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more", "hello"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
            "hello, world",
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9", "café"),
    ],
)
def test_http_answers_are_decoded(
    raw_server: Callable[[bytes], int], answer: bytes, expected: str
) -> None:
    port = raw_server(answer)
    assert netio.get(f"http://{HOST}:{port}/", 1.0) == expected


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\ntoo short",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_what_is_not_a_whole_http_answer_is_an_error(
    raw_server: Callable[[bytes], int], answer: bytes
) -> None:
    port = raw_server(answer)
    with pytest.raises(netio.HttpError):
        netio.get(f"http://{HOST}:{port}/", 1.0)


def test_an_unsupported_url_fails_alone(fake_http: FakeHttp) -> None:
    port = fake_http.listen(HOST)
    fake_http.route(HOST, port, "/ok", "fine")
    results = netio.get_first([["https://example.invalid/"], [f"http://{HOST}:{port}/ok"]], 1.0)
    assert isinstance(results[0], ValueError)
    assert results[1] == "fine"


@pytest.mark.parametrize(
    ("url", "host", "port", "path"),
    [
        ("http://127.10.1.1:8008/cluster", "127.10.1.1", 8008, "/cluster"),
        ("http://127.10.0.1:8404/stats;csv", "127.10.0.1", 8404, "/stats;csv"),
        ("http://127.10.0.1:8404", "127.10.0.1", 8404, "/"),
        ("http://localhost/metrics?x=1", "localhost", 80, "/metrics?x=1"),
        ("http://[::1]:9090/-/ready", "::1", 9090, "/-/ready"),
    ],
)
def test_urls_become_targets(url: str, host: str, port: int, path: str) -> None:
    target = netio.http_target(url)
    assert (target.host, target.port) == (host, port)
    assert target.request is not None
    assert target.request.startswith(f"GET {path} HTTP/1.0\r\n".encode())
