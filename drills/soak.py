"""The soak (issue 10): many failover/failback cycles in a row, rotating the fault kinds, with
the writers running. After every cycle every acknowledged write must be on the current primary,
no two writable primaries may have been seen, and the lab must be healthy again (the engine's
failback and steady-state phases check all three; a cycle that breaks one fails).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drctl.estate.base import Estate
from drctl.topology.model import Topology
from drills.engine import Engine, Options, approve_all
from drills.journal import Status
from drills.model import Drill

_STEADY = {
    "title": "the estate is healthy",
    "probes": [{"name": "every service healthy", "check": "estate.healthy"}],
}


def _drill(kind: str, title: str, systems: list[str], site: str, **extra: Any) -> Drill:
    spec: dict[str, Any] = {
        "title": title,
        "description": f"soak cycle: {title}",
        "kind": kind,
        "systems": systems,
        "parameters": {"site": site, "survivor": "valencia" if site == "brindisi" else "brindisi"},
        "steady-state-hypothesis": _STEADY,
        **extra,
    }
    return Drill.model_validate(spec)


def fault_kinds() -> list[tuple[str, Drill]]:
    """The rotation: every fault kind, crm-db and ecm-db, brindisi and valencia in turn."""
    both = ["ecm", "crm"]
    failover = {
        "recovery": {"runbook": "site-loss-failover"},
        "failback": {"runbook": "site-failback"},
    }
    return [
        ("leader-kill ecm-db", _drill(
            "leader-crash", "kill the ecm-db leader", ["ecm"], "brindisi",
            method=[{"action": "db.kill_leader", "args": {"system": "ecm"}}],
            recovery={"runbook": "leader-crash-failover"}, failback={"runbook": "site-failback"})),
        ("site-loss brindisi", _drill(
            "site-loss", "power off brindisi", both, "brindisi",
            method=[{"action": "site.power_off", "args": {"site": "brindisi"}}], **failover)),
        ("partition brindisi", _drill(
            "partition", "partition brindisi", both, "brindisi",
            method=[{"action": "site.partition", "args": {"site": "brindisi"}}], **failover)),
        ("leader-kill crm-db", _drill(
            "leader-crash", "kill the crm-db leader", ["crm"], "brindisi",
            method=[{"action": "db.kill_leader", "args": {"system": "crm"}}],
            recovery={"runbook": "leader-crash-failover"}, failback={"runbook": "site-failback"})),
        ("site-loss valencia", _drill(
            "site-loss", "power off valencia (the standby site)", both, "valencia",
            expect_failover=False,
            method=[{"action": "site.power_off", "args": {"site": "valencia"}}])),
        ("partition valencia", _drill(
            "partition", "partition valencia (the standby site)", both, "valencia",
            expect_failover=False,
            method=[{"action": "site.partition", "args": {"site": "valencia"}}])),
        ("wan-latency valencia", _drill(
            "wan-latency", "100 ms WAN latency at valencia", both, "valencia",
            expect_failover=False,
            method=[{"action": "wan.add_latency", "args": {"site": "valencia", "ms": 100}},
                    {"action": "pause", "args": {"seconds": 5}}])),
    ]  # fmt: skip


@dataclass
class Cycle:
    n: int
    kind: str
    run_id: str
    result: str
    rto_seconds: float | None
    writes_acknowledged: int
    writes_lost: int
    split_brain: int
    reasons: list[str] = field(default_factory=list)


@dataclass
class KindSummary:
    kind: str
    cycles: int
    failed: int
    rto_median: float | None
    rto_p95: float | None
    rto_max: float | None
    writes_lost: int
    split_brain: int


def summarise(cycles: list[Cycle]) -> list[KindSummary]:
    out = []
    for kind in dict.fromkeys(c.kind for c in cycles):
        mine = [c for c in cycles if c.kind == kind]
        rtos = sorted(c.rto_seconds for c in mine if c.rto_seconds is not None)
        p95 = rtos[min(len(rtos) - 1, round(0.95 * (len(rtos) - 1)))] if rtos else None
        out.append(
            KindSummary(
                kind=kind,
                cycles=len(mine),
                failed=sum(c.result != "passed" for c in mine),
                rto_median=statistics.median(rtos) if rtos else None,
                rto_p95=p95,
                rto_max=rtos[-1] if rtos else None,
                writes_lost=sum(c.writes_lost for c in mine),
                split_brain=sum(c.split_brain for c in mine),
            )
        )
    return out


def run(
    topology: Topology,
    estate: Estate,
    cycles: int,
    journal_dir: Path,
    progress: Callable[[str], None] = print,
) -> list[Cycle]:
    rotation = fault_kinds()
    done: list[Cycle] = []
    for n in range(1, cycles + 1):
        kind, drill = rotation[(n - 1) % len(rotation)]
        options = Options(journal_dir=journal_dir, approve=approve_all)
        journal = Engine(topology, estate, f"soak-{kind.replace(' ', '-')}", drill, options).run()
        results = list(journal.systems.values())
        rtos = [r.rto_seconds for r in results if r.rto_seconds is not None]
        cycle = Cycle(
            n=n,
            kind=kind,
            run_id=journal.run_id,
            result=journal.result or "failed",
            rto_seconds=max(rtos) if rtos else None,
            writes_acknowledged=sum(r.writes_acknowledged for r in results),
            writes_lost=sum(r.writes_lost for r in results),
            split_brain=sum(r.split_brain_observations for r in results),
            reasons=list(journal.reasons),
        )
        done.append(cycle)
        if journal.status is Status.INTERRUPTED:  # the engine failed back; stop the soak too
            progress(f"cycle {n}/{cycles} {kind}: interrupted; soak stopped")
            raise KeyboardInterrupt
        rto = f"{cycle.rto_seconds:.2f} s" if cycle.rto_seconds is not None else "-"
        progress(
            f"cycle {n}/{cycles} {kind}: {cycle.result}, RTO {rto}, "
            f"{cycle.writes_lost}/{cycle.writes_acknowledged} writes lost, "
            f"split brain {cycle.split_brain}"
            + (f" ({'; '.join(cycle.reasons)})" if cycle.reasons else "")
        )
    return done


def write_json(cycles: list[Cycle], path: Path) -> Path:
    data = {
        "cycles": [asdict(c) for c in cycles],
        "by_kind": [asdict(k) for k in summarise(cycles)],
    }
    path.write_text(json.dumps(data, indent=1))
    return path
