"""What each allow-listed action and check (drills/vocabulary.py) does to an estate.

Actions are the only way a drill or runbook touches the estate; every fault action has an
inverse that the engine records before injecting it, so failback always knows what to undo.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from drctl.errors import DrctlError, EstateError
from drctl.estate.base import Estate
from drctl.estate.patroni import Cluster
from drctl.topology.model import Topology
from drills import restore
from drills.model import Scalar

# fault action -> the action that undoes it (same args)
INVERSES = {
    "site.power_off": "site.power_on",
    "site.partition": "site.heal",
    "wan.add_latency": "wan.remove_latency",
    "service.kill": "service.start",
    "hub.isolate": "hub.reconnect",
}


class ActionFailed(DrctlError):
    pass


@dataclass
class Context:
    topology: Topology
    estate: Estate
    clusters: dict[str, Cluster] = field(default_factory=dict)
    # what db.kill_leader hit, so its inverse can restart that member
    killed: dict[str, str] = field(default_factory=dict)
    t0: float | None = None  # the first fault's instant
    # system -> the instant of the first fault that hit it (DESIGN §6: its RTO and RPO count
    # from there; a point-in-time restore's target)
    faults: dict[str, float] = field(default_factory=dict)
    # (system, table) -> (rows, digest) before db.corrupt, for db.table_intact
    digests: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    restores: dict[str, Any] = field(default_factory=dict)  # system -> restore.RestoreOutcome

    @classmethod
    def create(cls, topology: Topology, estate: Estate) -> Context:
        return cls(topology, estate, estate.clusters())

    def fault_at(self, system: str) -> float | None:
        return self.faults.get(system, self.t0)


# Method steps that inject nothing: they do not start a system's outage.
NOT_FAULTS = frozenset({"pause", "db.wait_leader", "db.wait_replication", "site.confirm_fenced"})


def hit_by(name: str, args: dict[str, Scalar], systems: list[str]) -> list[str]:
    """The systems a method step disrupts: the one it names, else every one (a site's power,
    network or service is shared by all the systems placed there)."""
    if name in NOT_FAULTS:
        return []
    named = args.get("system")
    return [str(named)] if named is not None else list(systems)


def _s(args: dict[str, Scalar], key: str) -> str:
    return str(args[key])


def _f(args: dict[str, Scalar], key: str, default: float) -> float:
    value = args.get(key, default)
    return float(value)


def inverse(name: str, args: dict[str, Scalar], ctx: Context) -> dict[str, Any] | None:
    """The action undoing `name`, recorded in the journal before `name` runs."""
    if name == "db.kill_leader":
        cluster = ctx.clusters[_s(args, "system")]
        site = cluster.leader_site()
        if site is None:
            return None
        return {
            "action": "service.start",
            "args": {"site": site, "service": cluster.system.database.cluster},
        }
    if name in ("db.corrupt", "db.destroy"):
        # nothing undoes the damage but the restore; if that fails, the cluster must run again
        return {"action": "db.start_members", "args": {"system": args["system"]}}
    if name in INVERSES:
        undo_args = {k: v for k, v in args.items() if k != "ms"}
        return {"action": INVERSES[name], "args": undo_args}
    return None


def run_action(name: str, args: dict[str, Scalar], ctx: Context, timeout: float) -> Any:
    """Run one action; returns what it observed (recorded in the journal)."""
    est = ctx.estate
    if name == "site.power_off":
        est.power_off(_s(args, "site"))
        return None
    if name == "site.power_on":
        est.power_on(_s(args, "site"))
        return None
    if name == "site.partition":
        est.partition(_s(args, "site"))
        return None
    if name in ("site.heal", "hub.reconnect"):
        est.heal(_s(args, "site"))
        return None
    if name == "hub.isolate":
        est.partition(_s(args, "site"))
        return None
    if name == "site.confirm_fenced":
        site = _s(args, "site")
        if not est.is_fenced(site):
            raise ActionFailed(f"{site} is not fenced: refusing to take over (split brain risk)")
        return f"{site} fenced"
    if name == "wan.add_latency":
        est.add_latency(_s(args, "site"), _f(args, "ms", 0))
        return None
    if name == "wan.remove_latency":
        est.remove_latency(_s(args, "site"))
        return None
    if name == "service.kill":
        est.kill_service(_s(args, "site"), _s(args, "service"))
        return None
    if name == "service.start":
        site, service = _s(args, "site"), _s(args, "service")
        if est.is_fenced(site) and est.is_service_down(site, service):
            # powered-off site: starting the site starts the service
            est.power_on(site)
        est.start_service(site, service)
        return None
    if name == "db.kill_leader":
        cluster = ctx.clusters[_s(args, "system")]
        leader = cluster.leader_site()
        if leader is None:
            raise ActionFailed(f"{cluster.system.database.cluster} has no leader to kill")
        est.kill_service(leader, cluster.system.database.cluster)
        ctx.killed[cluster.system.name] = leader
        return f"killed {cluster.system.database.cluster} leader at {leader}"
    if name == "db.restart_member":
        cluster = ctx.clusters[_s(args, "system")]
        est.start_service(_s(args, "site"), cluster.system.database.cluster)
        return None
    if name == "db.clear_stale_leader":
        cluster = ctx.clusters[_s(args, "system")]
        site = _s(args, "site")
        down = est.is_fenced(site) or est.is_service_down(site, cluster.system.database.cluster)
        if not down:
            raise ActionFailed(f"{cluster.member_name(site)} is neither fenced nor stopped")
        cleared = cluster.clear_leader_lock(site)
        return "leader lock released" if cleared else "lock not held by the fenced member"
    if name == "db.wait_leader":
        cluster = ctx.clusters[_s(args, "system")]
        where = str(args["site"]) if "site" in args else None
        return cluster.wait_leader(where, _f(args, "timeout_seconds", timeout))
    if name == "db.wait_replication":
        cluster = ctx.clusters[_s(args, "system")]
        return cluster.wait_replication(_f(args, "timeout_seconds", timeout))
    if name == "db.switchover":
        cluster = ctx.clusters[_s(args, "system")]
        return cluster.switchover(_s(args, "site"), _f(args, "timeout_seconds", timeout))
    if name == "db.corrupt":
        return restore.corrupt(ctx, _s(args, "system"), _s(args, "table"), _s(args, "column"))
    if name == "db.destroy":
        return restore.destroy(ctx, _s(args, "system"))
    if name == "db.restore":
        system = _s(args, "system")
        outcome = restore.restore(
            ctx,
            system,
            str(args.get("target", "t0")),
            int(_f(args, "repo", 1)),
            _f(args, "timeout_seconds", timeout),
        )
        ctx.restores[system] = outcome
        return outcome.log.strip()[-2000:] or "restored"
    if name == "db.start_members":
        return restore.start_members(ctx, _s(args, "system"), _f(args, "timeout_seconds", 120))
    if name == "command":
        return est.run_command(_s(args, "site"), _s(args, "run"), timeout=timeout)[-2000:]
    if name == "pause":
        time.sleep(_f(args, "seconds", 0))
        return None
    raise ActionFailed(f"unknown action {name!r}")


def run_check(name: str, args: dict[str, Scalar], ctx: Context, token: str) -> tuple[bool, str]:
    """A read-only check: (passed, detail)."""
    try:
        if name == "estate.healthy":
            bad = [f"{c.site}/{c.service}" for c in ctx.estate.health() if not c.healthy]
            return not bad, "all healthy" if not bad else "unhealthy: " + ", ".join(bad)
        if name == "replication.healthy":
            cluster = ctx.clusters[_s(args, "system")]
            return cluster.replication_healthy(int(_f(args, "max_lag_bytes", 1 << 20)))
        if name == "db.leader_at":
            cluster = ctx.clusters[_s(args, "system")]
            leader = cluster.leader_site()
            return leader == _s(args, "site"), f"leader at {leader}"
        if name == "app.ready":
            system = ctx.topology.system(_s(args, "system"))
            url = f"{front_door_url(ctx, system.name)}/api/probe/read"
            code = httpx.get(
                url, headers={"Authorization": f"Bearer {token}"}, timeout=2
            ).status_code
            return code == 200, f"HTTP {code}"
        if name == "backup.recent":
            return restore.backup_recent(
                ctx, _s(args, "system"), _f(args, "max_age_seconds", 86400)
            )
        if name == "db.table_intact":
            return restore.table_intact(ctx, _s(args, "system"), _s(args, "table"))
        if name == "cache.serves":
            site = ctx.topology.site(_s(args, "site"))
            url = f"http://{ctx.estate.address(site.name)}:{ctx.topology.ports.hub_cache}/healthz"
            code = httpx.get(url, timeout=2).status_code
            return code == 200, f"HTTP {code}"
        if name == "drill.no_other_running":
            return True, "checked by the engine's lock"
    except (EstateError, restore.RestoreFailed, httpx.HTTPError, OSError) as exc:
        return False, str(exc)
    return False, f"unknown check {name!r}"


def front_door_url(ctx: Context, system: str) -> str:
    app = ctx.topology.system(system).app
    if app is None:
        raise EstateError(f"system {system} has no application to probe")
    return f"http://{ctx.estate.address(ctx.topology.front_door.name)}:{app.port}"


def wait_check(
    name: str, args: dict[str, Scalar], ctx: Context, token: str, timeout: float
) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout
    while True:
        ok, detail = run_check(name, args, ctx, token)
        if ok or time.monotonic() > deadline:
            return ok, detail
        time.sleep(0.5)


Approver = Callable[[str, str], bool]
