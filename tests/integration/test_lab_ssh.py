"""The lab reached the production way (issue 8): an sshd at every site, testinfra checks over
SSH (`drctl verify`), and the Brindisi site-loss drill run through the production driver."""

from __future__ import annotations

import stat
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drctl import REPO_ROOT
from drctl.estate.lab import LabEstate
from drctl.estate.patroni import Cluster
from drctl.estate.production import ProductionEstate
from drctl.topology.model import Topology
from drills.engine import Engine, Options, approve_all
from drills.load import load_drill, resolve
from drills.model import Target

pytestmark = pytest.mark.lab
DRCTL = [sys.executable, "-m", "drctl"]
LAB_SSH = REPO_ROOT / "inventories" / "lab-ssh"


@pytest.fixture
def over_ssh(lab: LabEstate, topology: Topology) -> Iterator[ProductionEstate]:
    estate = ProductionEstate(topology, "lab-ssh")
    yield estate
    estate.ssh.close()


def _verify() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DRCTL, "verify", "--inventory", str(LAB_SSH)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_steady(topology: Topology, lab: LabEstate) -> None:
    bad = [f"{c.site}/{c.service}" for c in lab.wait_healthy(60) if not c.healthy]
    assert not bad, f"unhealthy: {bad}"
    addresses = {s.name: lab.address(s.name) for s in topology.sites}
    for system in topology.systems:
        cluster = Cluster(topology, system, addresses)
        assert cluster.leader_site() == system.placement[0]


def test_every_site_answers_ssh_with_the_controller_key_only(
    over_ssh: ProductionEstate, topology: Topology
) -> None:
    key = over_ssh.inventory.hosts[0].key_file
    assert key is not None and stat.S_IMODE(key.stat().st_mode) == 0o600
    known = over_ssh.inventory.hosts[0].known_hosts
    assert known is not None and len(known.read_text().splitlines()) == len(topology.sites)
    for site in topology.sites:
        out = over_ssh.run_command(site.name, "id -un; cat /proc/self/cgroup")
        user, cgroup = out.split("\n", 1)
        assert user == "root"
        assert f"/drctl/{site.name}/sshd" in cgroup  # inside the site: its power and its address
    # no key, no entry (BatchMode: no password prompt to fall back on)
    options = {
        "BatchMode": "yes",
        "IdentitiesOnly": "yes",
        "IdentityFile": "/dev/null",
        "UserKnownHostsFile": str(over_ssh.inventory.hosts[0].known_hosts),
    }
    denied = subprocess.run(
        ["ssh", *(f"-o{k}={v}" for k, v in options.items()), "root@127.10.1.1", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert denied.returncode == 255 and "Permission denied" in denied.stderr


def test_service_steps_over_ssh_are_fast(over_ssh: ProductionEstate) -> None:
    over_ssh.is_service_down("valencia", "ecm-db")  # the connection opens once
    over_ssh.ssh.latencies.clear()
    for _ in range(20):
        assert not over_ssh.is_service_down("valencia", "ecm-db")
    median = statistics.median(over_ssh.ssh.latencies)
    print(
        f"is_service_down over SSH: median {median * 1000:.0f} ms, "
        f"max {max(over_ssh.ssh.latencies) * 1000:.0f} ms (20 calls, one connection)"
    )
    assert median < 0.5


def test_verify_passes_on_the_healthy_lab(lab: LabEstate, topology: Topology) -> None:
    start = time.monotonic()
    out = _verify()
    print(out.stdout[-400:])
    assert out.returncode == 0, out.stdout + out.stderr
    for site in topology.sites:
        assert site.name in out.stdout
    assert "one primary ecm-db" in out.stdout
    print(f"drctl verify: {time.monotonic() - start:.1f} s")


def test_a_stopped_service_fails_verify_naming_host_and_check(
    over_ssh: ProductionEstate, lab: LabEstate, topology: Topology
) -> None:
    try:
        over_ssh.kill_service("geneva", "hub-cache")  # over SSH: the site's cgroup.kill
        assert over_ssh.is_service_down("geneva", "hub-cache")
        out = _verify()
        assert out.returncode == 1, out.stdout
        assert "FAILED geneva: listening hub-cache: nothing on 127.10.11.1:80" in out.stdout
        assert out.stdout.count("FAILED ") == 1  # nothing else is blamed
    finally:
        over_ssh.start_service("geneva", "hub-cache")  # over SSH: supervisorctl start
    assert not over_ssh.is_service_down("geneva", "hub-cache")
    _assert_steady(topology, lab)


def test_site_loss_over_ssh_meets_the_objectives(
    over_ssh: ProductionEstate, lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    path = resolve("site-loss-brindisi")
    drill = load_drill(path, topology).model_copy(update={"target": Target.LAB_SSH})
    options = Options(journal_dir=tmp_path, approve=approve_all, progress=print)
    journal = Engine(topology, over_ssh, path.stem, drill, options).run()
    assert journal.result == "passed", journal.reasons
    assert journal.target == "lab-ssh"
    for result in journal.systems.values():
        print(
            f"{result.system}: RTO {result.rto_seconds} s (objective "
            f"{result.objective_rto_seconds:g} s), {result.writes_acknowledged} acknowledged, "
            f"{result.writes_lost} lost, RPO {result.rpo_seconds} s"
        )
        assert result.rto_seconds is not None
        assert 0 < result.rto_seconds < result.objective_rto_seconds
        assert result.writes_acknowledged > 100
        assert result.writes_lost == 0 and result.rpo_seconds == 0
        assert result.split_brain_observations == 0
        assert result.primary_before == "brindisi" and result.primary_after == "valencia"
    # the journal names where each step really ran: powering brindisi on waits for its hosts
    # over SSH; fencing and promotion go through the hypervisor, etcd and Patroni, not SSH
    steps = {a.name: a.remote for a in journal.activities if a.kind == "step"}
    assert steps["Restore power and network at brindisi"] == "ssh://root@127.10.1.1", steps
    assert (
        steps["Confirm brindisi is fenced (powered off or cut off from every other site)"] is None
    )
    # the verification phase ran testinfra on every host not fenced, over SSH
    hosts = [a for a in journal.activities if a.name.endswith("(testinfra)")]
    checked = {a.name.split()[1] for a in hosts} - {"(estate)"}  # "(estate)": one primary each
    assert checked == {s.name for s in topology.sites} - {"brindisi"}
    assert all(a.status == "succeeded" for a in hosts)
    remotes = {a.remote for a in hosts if "(estate)" not in a.name}
    assert all((r or "").startswith("ssh://root@127.10.") for r in remotes)
    # power on waited for brindisi's sshd and its services over pyinfra's connection
    assert over_ssh.ssh.latencies, "no command ran over SSH"
    lat = over_ssh.ssh_latency()
    print(f"pyinfra commands in the drill: {lat}")
    _assert_steady(topology, lab)
