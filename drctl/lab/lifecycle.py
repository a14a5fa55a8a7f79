"""`drctl lab up | down | status`: bring the whole estate up on this machine, and tear it down."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drctl import REPO_ROOT
from drctl.deploy import run_playbook
from drctl.errors import EstateError
from drctl.estate.base import ServiceHealth
from drctl.estate.lab import LabEstate
from drctl.lab import cgroups, firewall, inventory, secrets, ssh, supervisor
from drctl.lab.paths import LabPaths
from drctl.topology.model import Topology

REQUIRED_BINARIES = (
    "etcd",
    "haproxy",
    "nginx",
    "supervisord",
    "supervisorctl",
    "iptables",
    "setpriv",
    "prometheus",
    "prometheus-node-exporter",
    "psql",
)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class UpResult:
    seconds: float
    changes: list[str] = field(default_factory=list)
    health: list[ServiceHealth] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(h.healthy for h in self.health)


def preflight() -> None:
    missing = [b for b in REQUIRED_BINARIES if shutil.which(b) is None]
    if missing:
        raise EstateError(f"missing programs: {', '.join(missing)}; run `make setup` first")
    if not Path("/usr/lib/postgresql/15/bin/initdb").exists():
        raise EstateError("PostgreSQL 15 is not installed; run `make setup` first")


def up(
    topo: Topology,
    paths: LabPaths | None = None,
    progress: Callable[[str], None] = _say,
    skip_tags: str | None = None,
) -> UpResult:
    paths = paths or LabPaths.default()
    preflight()
    start = time.monotonic()
    changes: list[str] = []
    paths.lab.mkdir(parents=True, exist_ok=True)
    paths.ansible.mkdir(parents=True, exist_ok=True, mode=0o700)
    values = secrets.load_or_create(paths.secrets)
    skipped = sorted(set((skip_tags or "").split(",")) - {""})
    paths.skipped_tags.write_text(" ".join(skipped))
    _, created = ssh.ensure_key_pair(paths)
    if created:
        changes.append(f"ssh: controller key pair created in {paths.ssh}")
    if inventory.write(topo):
        changes.append(f"inventory {inventory.LAB_INVENTORY.relative_to(REPO_ROOT)} regenerated")
    paths.cgroup_root.mkdir(parents=True, exist_ok=True)
    if firewall.install(topo, paths):
        changes.append("firewall: per-site source addresses installed")
    progress("==> applying roles with ansible-runner (inventories/lab)")
    result = run_playbook(
        inventory.LAB_INVENTORY,
        extravars={
            "drctl_lab_root": str(paths.lab),
            "drctl_cgroup_root": str(paths.cgroup_root),
            "drctl_repo": str(REPO_ROOT),
            # the lab runs the apps from the repository's own environment
            "app_venv": str(REPO_ROOT / ".venv"),
            "app_install": False,
            "drctl_ssh_public_key": ssh.public_key(paths),
        },
        private_dir=paths.ansible,
        progress=progress,
        skip_tags=skip_tags,
        vars_files=(secrets.write_vars_file(values, paths.lab / "secrets-vars.json"),),
    )
    if result.failures:
        raise EstateError("lab up failed:\n  " + "\n  ".join(result.failures))
    changes += result.changed_tasks
    if ssh.write_known_hosts(topo, paths):
        changes.append(f"ssh: {ssh.SshFiles.of(paths).known_hosts} written from the host keys")
    ssh_inventory = inventory.render_ssh(topo, paths, skipped)
    if inventory.write(topo, inventory.LAB_SSH_INVENTORY, ssh_inventory):
        changes.append(f"inventory {inventory.LAB_SSH_INVENTORY.relative_to(REPO_ROOT)} written")
    estate = LabEstate(topo, paths)
    clusters = estate.clusters()
    for system in topo.systems:
        cluster = clusters[system.name]
        preferred = system.placement[0]
        if cluster.leader_site() != preferred:
            progress(f"==> {system.database.cluster}: switching over to {preferred}")
            changes.append(cluster.switchover(preferred, timeout=60))
    progress("==> waiting for every service to be healthy")
    checks = estate.wait_healthy(timeout=60)
    return UpResult(time.monotonic() - start, changes, checks)


def down(topo: Topology, paths: LabPaths | None = None, purge: bool = False) -> list[str]:
    """Stop everything; leave no process, firewall rule or cgroup behind."""
    paths = paths or LabPaths.default()
    done = []
    for site in topo.sites:
        n = cgroups.kill(paths.site_cgroup(site.name))
        if n:
            done.append(f"{site.name}: stopped {n} process(es)")
    firewall.remove()
    if paths.cgroup_root.exists():
        cgroups.kill(paths.cgroup_root)
        cgroups.remove_tree(paths.cgroup_root)
    if purge and paths.lab.exists():
        shutil.rmtree(paths.lab)
        done.append(f"removed {paths.lab}")
    return done


def leftovers(paths: LabPaths | None = None) -> list[str]:
    paths = paths or LabPaths.default()
    out = [f"process {pid}" for pid in cgroups.pids(paths.cgroup_root)]
    out += firewall.leftovers()
    if paths.cgroup_root.exists():
        out.append(f"cgroup {paths.cgroup_root}")
    return out


def restore(
    topo: Topology,
    paths: LabPaths | None = None,
    progress: Callable[[str], None] = _say,
    timeout: float = 120,
) -> list[str]:
    """Bring the lab back to its steady state after any fault, without redeploying.

    Heals partitions, removes WAN latency, powers sites back on, starts stopped services, waits
    for replication, then switches each cluster back to its preferred primary. Idempotent: the
    drill engine's failback and `drctl drill recover` both end here.
    """
    paths = paths or LabPaths.default()
    estate = LabEstate(topo, paths)
    done: list[str] = []
    for cut in sorted(firewall.partitioned()):
        estate.heal(cut)
        done.append(f"{cut}: partition healed")
    for site in topo.sites:
        if not paths.supervisor_conf(site.name).exists():
            continue  # never deployed
        if estate.latency(site.name):
            estate.remove_latency(site.name)
            done.append(f"{site.name}: WAN latency removed")
        if not supervisor.running(paths, site.name):
            estate.power_on(site.name)
            done.append(f"{site.name}: powered on")
        else:
            started = supervisor.start_all(paths, site.name)
            done += [f"{site.name}: {name} started" for name in started]
    clusters = estate.clusters()
    for system in topo.systems:
        cluster = clusters[system.name]
        cluster.wait_leader(None, timeout)
        cluster.wait_replication(timeout)
        preferred = system.placement[0]
        if cluster.leader_site() != preferred:
            progress(f"==> {system.database.cluster}: switching back to {preferred}")
            done.append(cluster.switchover(preferred, timeout=timeout))
            cluster.wait_replication(timeout)
    checks = estate.wait_healthy(timeout)
    bad = [f"{c.site}/{c.service}: {c.detail}" for c in checks if not c.healthy]
    if bad:
        raise EstateError("lab not healthy after restore: " + "; ".join(bad))
    return done
