"""`drctl exporter`: its arguments, and /metrics served over HTTP on a private registry."""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Collection, Sequence

import pytest

from drctl.cli.exporter import parse_listen, parse_site_addresses
from drctl.errors import DrctlError
from drctl.topology import DEFAULT_PATH, load_topology
from monitoring.collector import DrctlCollector
from monitoring.config import ExporterConfig
from monitoring.exporter import build_registry, default_listen, serve
from monitoring.sources import HostPort


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.10.3.1:9180", ("127.10.3.1", 9180)), ("[::1]:0", ("::1", 0))],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["127.10.3.1", ":9180", "127.10.3.1:http", "host:70000"])
def test_bad_listen_addresses_name_the_option(text: str) -> None:
    with pytest.raises(DrctlError, match="--listen"):
        parse_listen(text)


def test_site_addresses() -> None:
    topo = load_topology(DEFAULT_PATH)
    assert parse_site_addresses(["brindisi=10.1.0.10"], topo) == {"brindisi": "10.1.0.10"}
    with pytest.raises(DrctlError, match="atlantis"):
        parse_site_addresses(["atlantis=10.9.9.9"], topo)
    with pytest.raises(DrctlError, match="SITE=ADDRESS"):
        parse_site_addresses(["brindisi"], topo)


def test_the_lab_exporter_listens_at_newyork() -> None:
    assert default_listen(load_topology(DEFAULT_PATH)) == ("127.10.3.1", 9180)


def _scrape(gzipped: bool) -> tuple[str, str | None]:
    """The text of /metrics and its Content-Encoding."""

    def nothing_answers(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
        return set()

    def fetch(groups: Sequence[Sequence[str]], timeout: float) -> list[str | Exception]:
        return [ConnectionError("refused") for _ in groups]

    topo = load_topology(DEFAULT_PATH)
    collector = DrctlCollector(
        topo, prober=nothing_answers, fetch=fetch, journals=list, backups=dict, plan=dict,
        config=ExporterConfig(etcd_endpoints=()),  # not the lab's etcd, which may be running
    )  # fmt: skip
    server, thread = serve(build_registry(collector), "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        headers = {"Accept-Encoding": "gzip"} if gzipped else {}
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            body, encoding = response.read(), response.headers.get("Content-Encoding")
    finally:
        server.shutdown()
        thread.join(5)
    return (gzip.decompress(body) if encoding == "gzip" else body).decode(), encoding


@pytest.mark.parametrize("gzipped", [False, True])
def test_metrics_are_served_over_http(gzipped: bool) -> None:
    text, encoding = _scrape(gzipped)
    assert encoding == ("gzip" if gzipped else None)
    assert 'drctl_site_up{site="brindisi"} 0.0' in text
    assert 'drctl_objective_rto_seconds{system="ecm"} 60.0' in text
    assert 'drctl_source_up{source="patroni"} 0.0' in text
