"""What the sections and the triggers work from: the loaded inputs, the previous manifest, the
drill evidence per system, and the plan's deterministic render time.

Render time ("as of"): the newest date recorded in the inputs — the data files' `updated` and
`last_review` dates, training records and the end of the latest completed drill journal. Never
the wall clock, so identical inputs give byte-identical plans. Time-based triggers shown *in*
the plan are evaluated at that instant; `drctl plan check` evaluates them at the real "now".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from drctl.plan.data import BiaEntry, Classification
from drctl.plan.load import Inputs, Loaded
from drctl.plan.manifest import DrillRef, Manifest, system_fingerprints
from drills.journal import Journal, Status, SystemResult
from drills.model import RESTORE_KINDS


@dataclass(frozen=True)
class Drilled:
    """One drill of one system: the journal and the system's measured figures in it."""

    item: Loaded[Journal]
    result: SystemResult

    @property
    def journal(self) -> Journal:
        return self.item.value

    @property
    def successful(self) -> bool:
        return self.journal.status is Status.SUCCEEDED and self.journal.result == "passed"

    @property
    def measured(self) -> bool:
        """The fault was injected (or figures exist): the run says something about the
        objectives. A run that never recovered has no RTO and misses it."""
        r = self.result
        return r.t0 is not None or r.rto_seconds is not None or r.rpo_seconds is not None

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.journal.started_at, UTC)


def at_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    y, m = divmod(day.month - 1 + months, 12)
    first = date(day.year + y, m + 1, 1)
    last_day = ((first + timedelta(days=32)).replace(day=1) - timedelta(days=1)).day
    return first.replace(day=min(day.day, last_day))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_time(inputs: Inputs) -> datetime:
    gov = inputs.governance
    days = [
        inputs.bia.updated,
        inputs.backups.updated,
        gov.document.updated,
        gov.document.last_review,
    ]
    days += [r.completed for r in gov.training_records]
    moments = [at_midnight(d) for d in days]
    for item in inputs.journals:
        end = item.value.ended_at or item.value.started_at
        moments.append(datetime.fromtimestamp(end, UTC).replace(microsecond=0))
    return max(moments)


@dataclass
class PlanContext:
    inputs: Inputs
    previous: Manifest | None
    as_of: datetime
    # failover drills (site loss, partition, ...) per system, oldest first: the objectives of
    # bia.yaml, the drill period and drift apply to these
    history: dict[str, list[Drilled]] = field(default_factory=dict)
    # restore drills (drills.model.RESTORE_KINDS), measured against backups.yaml's objectives
    restores: dict[str, list[Drilled]] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    drill_refs: dict[str, DrillRef] = field(default_factory=dict)

    @classmethod
    def build(cls, inputs: Inputs, previous: Manifest | None) -> PlanContext:
        ctx = cls(inputs, previous, render_time(inputs))
        for system in inputs.topology.systems:
            ctx.history[system.name], ctx.restores[system.name] = [], []
            for item in inputs.journals:
                if system.name in item.value.systems:
                    drilled = Drilled(item, item.value.systems[system.name])
                    restore = item.value.drill.get("kind") in RESTORE_KINDS
                    (ctx.restores if restore else ctx.history)[system.name].append(drilled)
        ctx.fingerprints = system_fingerprints(inputs.topology)
        for name in ctx.history:
            if (last := ctx.last(name)) is not None:
                ctx.drill_refs[name] = ctx._drill_ref(name, last)
        return ctx

    def _drill_ref(self, system: str, last: Drilled) -> DrillRef:
        """The system's fingerprint when it was last drilled. Exact when the journal's topology
        is the current file; otherwise carried over from the plan that first saw the journal."""
        topo_sha = self.inputs.hashes["topology.yaml"]
        ref = DrillRef(
            journal=last.item.key, run_id=last.journal.run_id, fingerprint=self.fingerprints[system]
        )
        if last.journal.topology_sha256 == topo_sha:
            return ref
        prev = self.previous
        if prev is not None and system in prev.systems:
            old = prev.systems[system]
            if old.drill is not None and old.drill.run_id == last.journal.run_id:
                return old.drill
            if prev.topology_sha256 == last.journal.topology_sha256:
                return ref.model_copy(update={"fingerprint": old.fingerprint})
        return ref.model_copy(update={"assumed": True})

    @property
    def plan_dir(self) -> Path:
        return self.inputs.paths.plan

    def rel(self, path: Path) -> str:
        """A link from the plan's directory to an evidence file."""
        return Path(os.path.relpath(path.resolve(), self.plan_dir.resolve())).as_posix()

    def report_link(self, item: Loaded[Journal]) -> str | None:
        report = item.value.report_html
        if not report:
            return None
        path = Path(report)
        return self.rel(path if path.is_absolute() else item.path.parent / path)

    def bia(self, system: str) -> BiaEntry | None:
        return self.inputs.bia.entry(system)

    def mission_critical(self) -> list[str]:
        return sorted(
            e.system
            for e in self.inputs.bia.systems
            if e.classification is Classification.MISSION_CRITICAL
        )

    def last(self, system: str) -> Drilled | None:
        measured = [d for d in self.history.get(system, []) if d.measured]
        return measured[-1] if measured else None

    def last_successful(self, system: str) -> Drilled | None:
        ok = [d for d in self.history.get(system, []) if d.successful]
        return ok[-1] if ok else None
