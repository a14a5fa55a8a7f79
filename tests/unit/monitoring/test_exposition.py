"""monitoring.exposition writes exactly what prometheus_client's own writers write."""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from monitoring_fakes import FakeEstate, cluster_doc
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from drctl.topology import DEFAULT_PATH, load_topology
from drills.journal import Journal, Status, SystemResult
from monitoring import exposition
from monitoring.collector import DrctlCollector
from monitoring.config import ExporterConfig
from monitoring.exporter import build_registry, serve
from monitoring.exposition import Format, FrozenFamily, GaugeLines, render
from monitoring.sources import HostPort

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
# what Prometheus 2.x sends: OpenMetrics 1.0.0 first
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


class Families:
    """A registry that yields the same families on every collect()."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def some_answer(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
    return set(list(endpoints)[::2])


def collector_output(estate: FakeEstate) -> list[Metric]:
    """One scrape of the collector over the fake estate: every source answering, a replica
    lagging, drill journals, backups and the plan."""
    for system in ("ecm", "crm"):
        estate.cluster(system)
    port = estate.patroni_port("ecm")
    estate.cluster("ecm", members=cluster_doc("ecm", port, replica_lag=4096))
    estate.replica_status("ecm", datetime.fromtimestamp(NOW - 7.25, UTC).isoformat())
    estate.front_door("haproxy-stats-primary.csv")
    result = SystemResult(system="ecm", objective_rto_seconds=60, objective_rpo_seconds=0,
                          t0=NOW - 100, t1=NOW - 60, rto_seconds=40.5, rpo_seconds=0.0,
                          writes_acknowledged=1000)  # fmt: skip
    journal = Journal(drctl_version="0.1.0", run_id="r1", drill_id="site-loss", drill={},
                      target="lab", mode="disruptive", platform={}, topology_sha256="0" * 64,
                      started_at=NOW - 200, ended_at=NOW - 50, status=Status.SUCCEEDED,
                      systems={"ecm": result}, result="passed")  # fmt: skip
    c = DrctlCollector(
        estate.topo,
        prober=some_answer,
        journals=lambda: [journal],
        backups=lambda: {"ecm": NOW - 3600, "crm": 1.5e9},
        plan=lambda: {"review-overdue": [], "drill-overdue": ["ecm"]},
        clock=lambda: NOW,
        config=ExporterConfig(site_addresses=estate.addresses, haproxy_stats_url=estate.stats_url),
    )
    return list(c.collect())


def awkward_families() -> list[Metric]:
    """What the fast path must get right or hand over: escapes, odd values, no labels, label
    names out of order, and families that are not plain gauges."""
    doc = 'help with "quotes", a \\ and a\nnewline'
    g = GaugeMetricFamily("drctl_awkward", doc, labels=["z", "a"])
    lines = GaugeLines("drctl_awkward_lines", doc, ["z", "a"])  # the same, written as added
    for family in (g, lines):
        family.add_metric(['say "hi"', "back\\slash"], float("inf"))
        family.add_metric(["new\nline", "ünïcødé"], float("-inf"))
        family.add_metric(["nan", ""], float("nan"))
        family.add_metric(["big", "small"], 123456789.0)
        family.add_metric(["int", "neg"], -3)
        family.add_metric(["tiny", "exp"], 1e-9)
        family.add_metric(["zero", "signed"], -0.0)
        family.add_metric(["stamp", "go"], 1764590400.125)
    plain = GaugeMetricFamily("drctl_no_labels", "no labels", value=12)
    plain_lines = GaugeLines("drctl_no_labels_lines", "no labels", [])
    plain_lines.add_metric([], 12)
    three = GaugeLines("drctl_three", "three labels, given out of order", ["m", "b", "x"])
    three.add_metric(["1", "2", "3"], 0)
    counter = CounterMetricFamily("drctl_things", "a counter", labels=["kind"])
    counter.add_metric(["a"], 3)
    stamped = GaugeMetricFamily("drctl_stamped", "with a timestamp", labels=["x"])
    stamped.add_metric(["y"], 1, timestamp=1700000000.5)
    unit = GaugeMetricFamily("drctl_sized_bytes", "with a unit", unit="bytes")
    unit.add_metric([], 2)
    return [g, lines, plain, plain_lines, three, counter, stamped, unit]


@pytest.fixture
def families(estate: FakeEstate) -> list[Metric]:
    out = collector_output(estate)
    assert any(isinstance(f, FrozenFamily) for f in out)  # the topology's, written once
    return out + awkward_families()


def test_the_text_format_is_prometheus_clients_byte_for_byte(families: list[Metric]) -> None:
    expected = generate_latest(Families(families))  # type: ignore[arg-type]
    assert render(families, Format.TEXT) == expected
    assert render(families, Format.TEXT) == expected  # the frozen families' cached text too


def test_openmetrics_is_prometheus_clients_byte_for_byte(families: list[Metric]) -> None:
    expected = openmetrics_latest(Families(families))
    assert render(families, Format.OPENMETRICS) == expected
    assert render(families, Format.OPENMETRICS) == expected


def test_a_frozen_family_is_still_an_ordinary_metric(families: list[Metric]) -> None:
    frozen = [f for f in families if isinstance(f, FrozenFamily)]
    thawed = [GaugeMetricFamily(f.name, f.documentation) for f in frozen]
    for f, t in zip(frozen, thawed, strict=True):
        t.samples = list(f.samples)
    assert generate_latest(Families(frozen)) == generate_latest(Families(thawed))  # type: ignore[arg-type]


def test_gauge_lines_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="not a plain Prometheus"):
        GaugeLines("drctl-dashed", "x", [])
    with pytest.raises(ValueError, match="not a plain Prometheus"):
        GaugeLines("drctl_ok", "x", ["bad-label"])
    family = GaugeLines("drctl_ok", "x", ["a", "b"])
    with pytest.raises(ValueError, match="1 label values"):
        family.add_metric(["only one"], 1)
    with pytest.raises(AttributeError):
        family.samples = [Sample("drctl_ok", {}, 1)]


def _get(url: str, headers: dict[str, str]) -> tuple[bytes, str, str | None]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        body, encoding = r.read(), r.headers.get("Content-Encoding")
        content_type = r.headers.get("Content-Type")
    return (gzip.decompress(body) if encoding == "gzip" else body), content_type, encoding


@pytest.mark.parametrize(
    ("accept", "content_type", "last_line"),
    [
        (None, "text/plain; version=0.0.4; charset=utf-8", "drctl_scrape_duration_seconds"),
        (
            PROMETHEUS_ACCEPT,
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
            "# EOF",
        ),
    ],
)
def test_the_server_negotiates_the_format_as_prometheus_client_does(
    accept: str | None, content_type: str, last_line: str
) -> None:
    def nothing_answers(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
        return set()

    def fetch(groups: Sequence[Sequence[str]], timeout: float) -> list[str | Exception]:
        return [ConnectionError("refused") for _ in groups]

    c = DrctlCollector(load_topology(DEFAULT_PATH), prober=nothing_answers, fetch=fetch,
                       journals=list, backups=dict, plan=dict,
                       config=ExporterConfig(etcd_endpoints=()))  # fmt: skip
    server, thread = serve(build_registry(c), "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        headers = {"Accept-Encoding": "gzip", **({"Accept": accept} if accept else {})}
        body, got_type, encoding = _get(url, headers)
    finally:
        server.shutdown()
        thread.join(5)
    assert got_type == content_type
    assert encoding == "gzip"
    assert body.decode().splitlines()[-1].startswith(last_line)
    assert 'drctl_objective_rto_seconds{system="ecm"} 60.0' in body.decode()


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20))
@settings(max_examples=500, deadline=None)
def test_values_are_written_as_prometheus_client_writes_them(value: float) -> None:
    assert exposition._value(value) == floatToGoString(value)


@pytest.mark.parametrize(
    "value", [0, 1, -0.0, 999999.5, 1e6, 1764590400.125, -1e300, -1.5e300, 1e-300, 5e-324]
)
def test_edge_values_are_written_as_prometheus_client_writes_them(value: float) -> None:
    assert exposition._value(value) == floatToGoString(value)
