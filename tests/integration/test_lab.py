"""The lab's fault primitives against the real running estate (issue 2's acceptance tests)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from drctl.estate.lab import LabEstate
from drctl.estate.patroni import Cluster
from drctl.lab import firewall, lifecycle
from drctl.topology.model import Topology

pytestmark = pytest.mark.lab


def _cluster(topo: Topology, lab: LabEstate, system: str) -> Cluster:
    return Cluster(topo, topo.system(system), {s.name: lab.address(s.name) for s in topo.sites})


def _superuser_dsn(lab: LabEstate, site: str, port: int, dbname: str = "postgres") -> str:
    password = json.loads(lab.paths.secrets.read_text())["db_superuser"]
    return (
        f"host={lab.address(site)} port={port} user=postgres password={password} "
        f"dbname={dbname} connect_timeout=2"
    )


def _server_address(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT host(inet_server_addr())").fetchone()
        assert row is not None
        return str(row[0])


def _wait(predicate: object, timeout: float, what: str) -> float:
    """Poll `predicate` until true; returns the seconds it took."""
    assert callable(predicate)
    start = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - start < timeout:
        try:
            if predicate():
                return time.monotonic() - start
        except (OSError, psycopg.Error) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout:g} s (last error: {last})")


def test_lab_is_healthy_with_preferred_primaries(lab: LabEstate, topology: Topology) -> None:
    bad = [f"{c.site}/{c.service}: {c.detail}" for c in lab.health() if not c.healthy]
    assert not bad
    for system in topology.systems:
        cluster = _cluster(topology, lab, system.name)
        assert cluster.leader_site() == system.placement[0]
        ok, detail = cluster.replication_healthy()
        assert ok, detail


def test_leader_kill_promotes_valencia_and_router_follows(
    steady: LabEstate, topology: Topology
) -> None:
    ecm = topology.system("ecm")
    cluster = _cluster(topology, steady, "ecm")
    router = _superuser_dsn(steady, "brindisi", ecm.database.router_port)
    assert _server_address(router) == steady.address("brindisi")

    steady.kill_service("brindisi", ecm.database.cluster)  # SIGKILL to Patroni and PostgreSQL
    assert steady.is_service_down("brindisi", ecm.database.cluster)
    took = _wait(lambda: cluster.leader_site() == "valencia", 90, "valencia promoted")
    print(f"valencia promoted {took:.1f} s after the leader was killed")
    _wait(
        lambda: _server_address(router) == steady.address("valencia"),
        15,
        "brindisi's router sends writes to valencia",
    )

    def writable() -> bool:
        # the router may route to valencia a moment before its promotion completes
        with psycopg.connect(router, autocommit=True) as conn:
            return conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)

    _wait(writable, 15, "writes through brindisi's router reach the new primary")


def test_brindisi_power_off_keeps_quorum_and_crm_writable(
    steady: LabEstate, topology: Topology
) -> None:
    crm = topology.system("crm")
    steady.power_off("brindisi")
    assert steady.is_fenced("brindisi")

    etcd = f"http://{steady.address('valencia')}:{topology.ports.etcd_client}/health"

    def quorum() -> bool:
        import urllib.request

        with urllib.request.urlopen(etcd, timeout=1) as resp:
            return bool(json.loads(resp.read())["health"] == "true")

    _wait(quorum, 10, "etcd quorum without brindisi")
    router = _superuser_dsn(steady, "valencia", crm.database.router_port)

    def writable() -> bool:
        with psycopg.connect(router, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS drctl_lab_test (at timestamptz)")
            conn.execute("INSERT INTO drctl_lab_test VALUES (now())")
        return True

    took = _wait(writable, 90, "crm-db writable at valencia")
    print(f"crm-db writable at valencia {took:.1f} s after brindisi lost power")
    assert _server_address(router) == steady.address("valencia")


def _reachable(lab: LabEstate, from_site: str, to_site: str, port: int) -> bool:
    """A TCP connection from inside `from_site` (its cgroup, so its source address)."""
    probe = (
        'python3 -c "import socket,sys; s=socket.socket(); s.settimeout(1.5); '
        f"sys.exit(s.connect_ex(('{lab.address(to_site)}', {port})))\""
    )
    try:
        lab.run_command(from_site, probe, timeout=10)
        return True
    except Exception:
        return False


def test_partition_cuts_the_site_both_ways_and_heal_restores(
    steady: LabEstate, topology: Topology
) -> None:
    port = topology.ports.etcd_client
    assert _reachable(steady, "valencia", "brindisi", port)
    steady.partition("brindisi")
    assert "brindisi" in firewall.partitioned()
    assert not _reachable(steady, "valencia", "brindisi", port)
    assert not _reachable(steady, "brindisi", "valencia", port)
    assert not _reachable(steady, "brindisi", "newyork", port)
    # nothing else is cut: other sites still reach each other
    assert _reachable(steady, "valencia", "newyork", port)
    steady.heal("brindisi")
    assert "brindisi" not in firewall.partitioned()
    assert _reachable(steady, "valencia", "brindisi", port)
    assert _reachable(steady, "brindisi", "newyork", port)


def test_restore_is_a_no_op_on_a_healthy_lab(lab: LabEstate, topology: Topology) -> None:
    assert lifecycle.restore(topology, lab.paths) == []


@pytest.mark.lab_teardown
def test_lab_down_leaves_nothing(lab: LabEstate, topology: Topology) -> None:
    lifecycle.down(topology, lab.paths)
    assert lifecycle.leftovers(lab.paths) == []
    import subprocess

    listening = subprocess.run(["ss", "-Htln"], capture_output=True, text=True).stdout
    assert "127.10." not in listening
