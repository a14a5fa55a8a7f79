"""Fabricated drill journals with realistic figures and raw samples, for the evidence tests.

One journal = preflight (5 s) → probes (10 s of steady state) → fault at t0 → recovery until t1
→ verify (10 s) → failback (30 s) → steady state (5 s). Read probes fail from just after t0 until
t1; writes are acknowledged except during the outage; `lost` of the last writes acknowledged
before t0 are missing afterwards, which sets the RPO as DESIGN §6 defines it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from drills.journal import (
    Activity,
    CorrectiveAction,
    Journal,
    Phase,
    Samples,
    Status,
    SystemResult,
)

DAY = 86400.0
EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()


@dataclass
class SystemSpec:
    name: str = "ecm"
    rto: float | None = 12.5  # None: never recovered (no t1)
    objective_rto: float = 60.0
    objective_rpo: float = 0.0
    lost: int = 0
    split_brain: int = 0
    documents_mismatched: int = 0


@dataclass
class Spec:
    drill_id: str = "brindisi-site-loss"
    started_at: float = EPOCH
    mode: str = "disruptive"
    status: Status = Status.SUCCEEDED
    systems: list[SystemSpec] = field(default_factory=lambda: [SystemSpec()])
    hz: float = 20.0
    write_hz: float = 5.0
    failed_activity: bool = False
    corrective: list[CorrectiveAction] = field(default_factory=list)
    result: str | None = "auto"  # "auto": passed when every system met its objectives


def make_journal(spec: Spec | None = None, **kw: object) -> Journal:
    spec = spec or Spec(**kw)  # type: ignore[arg-type]
    s = spec.started_at
    t0 = s + 15.0
    longest = max((x.rto if x.rto is not None else 60.0) for x in spec.systems)
    t1_all = t0 + longest
    phases: dict[str, tuple[float, float | None]] = {
        Phase.PREFLIGHT.value: (s, s + 5),
        Phase.PROBES.value: (s + 5, t0),
        Phase.FAULT.value: (t0, t0 + 0.2),
        Phase.RECOVERY.value: (t0 + 0.2, t1_all),
        Phase.VERIFY.value: (t1_all, t1_all + 10),
        Phase.FAILBACK.value: (t1_all + 10, t1_all + 40),
        Phase.STEADY_STATE.value: (t1_all + 40, t1_all + 45),
    }
    systems: dict[str, SystemResult] = {}
    samples: dict[str, Samples] = {}
    for x in spec.systems:
        t1 = None if x.rto is None else t0 + x.rto
        outage_end = t1 if t1 is not None else t1_all
        reads = []
        n = 0
        while (t := s + 5 + n / spec.hz) < t1_all + 10:
            ok = not (t0 + 0.05 <= t < outage_end)
            reads.append((round(t, 3), ok, 3.0 if ok else 2000.0))
            n += 1
        writes = []
        n = 0
        while (t := s + 5 + n / spec.write_hz) < t1_all + 10:
            writes.append((round(t, 3), n + 1, not (t0 <= t < outage_end)))
            n += 1
        acked_before = [(t, seq) for t, seq, ok in writes if ok and t < t0]
        lost = acked_before[len(acked_before) - x.lost :] if x.lost else []
        rpo = 0.0
        if lost:
            earlier = acked_before[: len(acked_before) - x.lost]
            rpo = round(t0 - earlier[-1][0], 3) if earlier else round(t0 - s, 3)
        detection = next((t for t, ok, _ in reads if t >= t0 and not ok), None)
        systems[x.name] = SystemResult(
            system=x.name,
            objective_rto_seconds=x.objective_rto,
            objective_rpo_seconds=x.objective_rpo,
            t0=t0,
            detection=detection,
            declaration=None if t1 is None else t0 + 0.6 * (t1 - t0),
            t1=t1,
            rto_seconds=x.rto,
            rpo_seconds=rpo,
            writes_acknowledged=sum(1 for _, _, ok in writes if ok),
            writes_lost=x.lost,
            lost_seqs=[seq for _, seq in lost],
            documents_checked=40,
            documents_mismatched=x.documents_mismatched,
            split_brain_observations=x.split_brain,
            primary_before=f"{x.name}-db-brindisi",
            primary_after=f"{x.name}-db-valencia",
            probe_resolution_seconds=1 / spec.hz,
        )
        samples[x.name] = Samples(read=reads, write=writes)
    activities = [
        Activity(phase=Phase.PREFLIGHT, kind="check", name="replication.healthy", start=s + 1,
                 end=s + 1.4, status="succeeded"),
        Activity(phase=Phase.FAULT, kind="action", name="site.power_off", start=t0,
                 end=t0 + 0.2, status="succeeded", remote="ssh://lab/brindisi"),
        Activity(phase=Phase.RECOVERY, kind="step", name="confirm fenced", start=t0 + 0.2,
                 end=t0 + 1.0, status="succeeded"),
    ]  # fmt: skip
    if spec.failed_activity:
        activities.append(
            Activity(phase=Phase.FAILBACK, kind="step", name="switchover to brindisi",
                     start=t1_all + 12, end=t1_all + 42, status="failed",
                     error="timed out after 30 s waiting for leader at brindisi")
        )  # fmt: skip
    all_met = all(r.met for r in systems.values())
    reasons = [f"{n}: objectives missed" for n, r in systems.items() if not r.met]
    result = spec.result if spec.result != "auto" else ("passed" if all_met else "failed")
    return Journal(
        drctl_version="0.1.0",
        run_id=datetime.fromtimestamp(s, UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{spec.drill_id}",
        drill_id=spec.drill_id,
        drill={"title": f"Drill {spec.drill_id}", "kind": "site-loss"},
        target="lab",
        mode=spec.mode,
        platform={"python": "3.11"},
        topology_sha256="ab" * 32,
        started_at=s,
        ended_at=t1_all + 45,
        status=spec.status,
        phase=Phase.DONE,
        phases=phases,
        activities=activities,
        systems=systems,
        samples=samples,
        corrective_actions=spec.corrective,
        result=result,
        reasons=reasons,
    )
