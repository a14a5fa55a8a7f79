"""Render the recovery plan of a generated estate: 1,000 systems on 50 sites (target ≤ 2 s).

The estate is written to a temporary directory: topology, BIA, governance and backup data, the
repository's runbooks, and drill journals covering every tier-1 system. The figure is the whole
of `drctl plan render`: loading and validating every input, rendering, writing the files.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from drctl import REPO_ROOT
from drctl.plan import PlanPaths, load_inputs, write_plan
from drctl.plan.context import PlanContext
from drctl.plan.manifest import read_manifest
from drctl.plan.render import render_context
from drills.journal import Journal, Status, SystemResult

SYSTEMS, SITES = 1000, 50
TARGET_SECONDS = 2.0
REPEATS = 3
TIERS = [
    {"level": 1, "name": "mission-critical", "replication": "synchronous", "drill_every_days": 90},
    {"level": 2, "name": "critical", "replication": "asynchronous", "drill_every_days": 180},
    {"level": 3, "name": "non-critical", "replication": "asynchronous", "drill_every_days": 365},
]
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def _dump(path: Path, data: Any) -> None:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(data, Dumper=dumper, sort_keys=False), encoding="utf-8")


def _sites(n_sites: int) -> list[dict[str, Any]]:
    """A front door, a primary and secondary data centres, headquarters and regional hubs."""
    n_edc = max(2, (n_sites - 2) * 3 // 5)
    roles = ["front-door", "primary-edc", "headquarters"]
    roles += ["secondary-edc"] * (n_edc - 1)
    roles += ["regional-hub"] * (n_sites - len(roles))
    services = {
        "front-door": ["front-door", "node-exporter"],
        "primary-edc": ["etcd", "haproxy", "node-exporter"],
        "secondary-edc": ["haproxy", "node-exporter"],
        "headquarters": ["etcd", "prometheus", "drctl-exporter", "node-exporter"],
        "regional-hub": ["hub-cache", "node-exporter"],
    }
    return [
        {
            "name": f"site-{i:02d}",
            "role": role,
            "location": f"Duty station {i}",
            "country": f"Country {i % 17}",
            # data only, never contacted: the benchmark renders, it starts nothing
            "lab_address": f"127.200.{i // 200}.{i % 200 + 1}",
            "distance_km": 0 if role == "primary-edc" else 100 + 37 * i,
            "team": f"Site {i} incident team",
            "outsourced": i % 9 == 0,
            "services": services[role],
            "caches": ["sys-0000"] if role == "regional-hub" else [],
        }
        for i, role in enumerate(roles)
    ]


def _systems(n: int, sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    edcs = [s["name"] for s in sites if s["role"] in ("primary-edc", "secondary-edc")]
    out = []
    for i in range(n):
        tier = 1 if i % 10 == 0 else 2 if i % 10 < 7 else 3
        a = edcs[i % len(edcs)]
        b = edcs[(i + 1) % len(edcs)]
        out.append(
            {
                "name": f"sys-{i:04d}",
                "title": f"Generated system {i}",
                "tier": tier,
                "objectives": {
                    "rto_seconds": {1: 60, 2: 900, 3: 14400}[tier],
                    "rpo_seconds": {1: 0, 2: 300, 3: 3600}[tier],
                },
                # chains of five: deep enough for several recovery waves, no cycle
                "depends_on": [f"sys-{i - 1:04d}"] if i % 5 else [],
                "recovery_order": i % 5 + 1,
                "placement": [a] if tier == 3 else [a, b],
                "replication": TIERS[tier - 1]["replication"],
                "database": {
                    "cluster": f"sys-{i:04d}-db",
                    "port": 10000 + i,
                    "patroni_port": 20000 + i,
                    "router_port": 30000 + i,
                },
                "app": {"port": 40000 + i} if i % 2 == 0 else None,
            }
        )
        if out[-1]["app"] is None:
            del out[-1]["app"]
    return out


def _bia(systems: list[dict[str, Any]]) -> dict[str, Any]:
    classes = {1: "mission-critical", 2: "critical", 3: "non-critical"}
    return {
        "version": 1,
        "updated": AS_OF.date(),
        "systems": [
            {
                "system": s["name"],
                "business_functions": [f"Function {s['name']} A", f"Function {s['name']} B"],
                "impact": [
                    {"after_hours": 1, "severity": "moderate", "description": "Delays."},
                    {"after_hours": 24, "severity": "severe", "description": "Work stops."},
                ],
                "mtd_seconds": s["objectives"]["rto_seconds"] * 4 + 3600,
                "wrt_seconds": 1800,
                "minimum_service_level": "Read-only access.",
                "classification": classes[s["tier"]],
                "justification": f"Tier {s['tier']} by the BIA of {s['name']}.",
            }
            for s in systems
        ],
    }


def _backups(systems: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 1,
        "updated": AS_OF.date(),
        "systems": [
            {
                "system": s["name"],
                "tool": "pgBackRest",
                "schedules": [
                    {"type": "full", "every_seconds": 604800},
                    {"type": "wal-archive", "every_seconds": 60},
                ],
                "repositories": [
                    {
                        "name": "repo1",
                        "site": s["placement"][-1],
                        "location": "backup array",
                        "off_site": len(s["placement"]) > 1,
                        "retention_days": 35,
                    },
                    {
                        "name": "repo2",
                        "provider": "Object storage",
                        "location": "EU region",
                        "off_site": True,
                        "immutable": True,
                        "retention_days": 365,
                    },
                ],
            }
            for s in systems
        ],
    }


def _governance(sites: list[dict[str, Any]], systems: list[dict[str, Any]]) -> dict[str, Any]:
    gov: dict[str, Any] = yaml.safe_load(
        (REPO_ROOT / "inventories" / "governance.yaml").read_text(encoding="utf-8")
    )

    def person(site: int, n: int) -> dict[str, Any]:
        return {
            "name": f"Person {site}-{n}",
            "email": f"p{site}.{n}@example.org",
            "phone": f"+1 555 {site:03d} {n:04d}",
        }

    gov["teams"] = {
        site["name"]: {
            "members": [
                {"role": role, **person(i, k), "alternate": person(i, k + 10)}
                for k, role in enumerate(["Site incident lead", "DBA", "Systems engineer"])
            ],
            "escalation": ["Site incident lead", "DR coordinator"],
        }
        for i, site in enumerate(sites)
    }
    gov["facilities"] = {}
    gov["activation"]["notification"] = [
        {"team": s["name"], "channel": "phone bridge", "within_minutes": 5 + i}
        for i, s in enumerate(sites[:10])
    ]
    gov["waivers"] = [
        {
            "id": "W-BENCH",
            "trigger": "drill_overdue",
            "systems": [s["name"] for s in systems if s["tier"] > 1],
            "reason": "Generated estate.",
            "approved_by": "Benchmark",
            "granted": AS_OF.date(),
            "expires": (AS_OF + timedelta(days=90)).date(),
        }
    ]
    return gov


def _journals(directory: Path, systems: list[dict[str, Any]], topology_sha: str) -> None:
    tier1 = [s for s in systems if s["tier"] == 1]
    for k in range(0, len(tier1), 10):
        started = AS_OF - timedelta(days=30 - k // 10)
        t0 = started.timestamp() + 30
        results = {
            s["name"]: SystemResult(
                system=s["name"],
                objective_rto_seconds=60,
                objective_rpo_seconds=0,
                t0=t0,
                t1=t0 + 20 + j,
                rto_seconds=20.0 + j,
                rpo_seconds=0.0,
                writes_acknowledged=1000,
            )
            for j, s in enumerate(tier1[k : k + 10])
        }
        Journal(
            drctl_version="0.1.0",
            run_id=f"bench-{k:04d}",
            drill_id="site-loss",
            drill={"title": "Site loss", "kind": "site-loss"},
            target="lab",
            mode="disruptive",
            platform={"system": "Linux"},
            topology_sha256=topology_sha,
            started_at=started.timestamp(),
            ended_at=started.timestamp() + 200,
            status=Status.SUCCEEDED,
            systems=results,
            result="passed",
        ).save(directory / f"bench-{k:04d}.json")


def generate(root: Path, n_systems: int = SYSTEMS, n_sites: int = SITES) -> PlanPaths:
    """Write a generated estate under root; return the paths to render it from."""
    import hashlib

    data, journals = root / "inventories", root / "journals"
    data.mkdir(parents=True)
    journals.mkdir()
    sites = _sites(n_sites)
    systems = _systems(n_systems, sites)
    topology = {
        "version": 1,
        "organisation": "Generated organisation",
        "tiers": TIERS,
        "sites": sites,
        "systems": systems,
    }
    _dump(data / "topology.yaml", topology)
    _dump(data / "bia.yaml", _bia(systems))
    _dump(data / "backups.yaml", _backups(systems))
    _dump(data / "governance.yaml", _governance(sites, systems))
    runbooks = root / "runbooks"
    runbooks.mkdir()
    for path in sorted((REPO_ROOT / "runbooks").glob("*.yaml")):
        shutil.copy(path, runbooks / path.name)
    sha = hashlib.sha256((data / "topology.yaml").read_bytes()).hexdigest()
    _journals(journals, systems, sha)
    return PlanPaths(
        topology=data / "topology.yaml",
        data=data,
        journals=journals,
        plan=root / "plan",
        runbooks=runbooks,
        catalogue=root / "catalogue",
    )


def _render_once(paths: PlanPaths) -> tuple[float, float]:
    """(load and validate, render and write) in seconds, from a plan directory emptied first."""
    shutil.rmtree(paths.plan, ignore_errors=True)
    started = time.perf_counter()
    inputs = load_inputs(paths)
    loaded = time.perf_counter()
    rendered = render_context(PlanContext.build(inputs, read_manifest(paths.plan)))
    write_plan(rendered, paths.plan, pdf=False)
    return loaded - started, time.perf_counter() - loaded


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="drctl-plan-bench-") as tmp:
        paths = generate(Path(tmp))
        # best of three: the figure is the code's, not the neighbours' load on a shared machine
        runs = sorted((_render_once(paths) for _ in range(REPEATS)), key=sum)
        load, render = runs[0]
        total = load + render
        size = (paths.plan / "plan.md").stat().st_size
        print(
            f"plan render, {SYSTEMS} systems on {SITES} sites: {total:.2f} s best of {REPEATS} "
            f"(load and validate {load:.2f} s, render and write {render:.2f} s; slowest "
            f"{sum(runs[-1]):.2f} s; plan.md {size / 1e6:.1f} MB); target ≤ {TARGET_SECONDS:g} s: "
            + ("met" if total <= TARGET_SECONDS else "MISSED")
        )


if __name__ == "__main__":
    main()
