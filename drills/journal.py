"""The drill journal: a complete, self-describing JSON record of one drill run.

Reports, the plan's performance section and the exporter's metrics are all derived from it.
It is written after every phase, so a killed engine leaves a journal that says where it stopped
and what must be undone (`pending_rollbacks`); `drctl drill recover` works from that alone.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drctl import REPO_ROOT

DEFAULT_JOURNAL_DIR = REPO_ROOT / "drills" / "journals"


def journal_dir() -> Path:
    return Path(os.environ.get("DRCTL_JOURNAL_DIR", DEFAULT_JOURNAL_DIR))


class Status(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # KeyboardInterrupt / SIGTERM, recorded as such, not as a crash
    RECOVERED = "recovered"  # an engine that died was cleaned up by `drctl drill recover`


class Phase(StrEnum):
    PREFLIGHT = "preflight"
    PROBES = "probes"
    FAULT = "fault"
    RECOVERY = "recovery"
    VERIFY = "verify"
    FAILBACK = "failback"
    STEADY_STATE = "steady-state"
    DONE = "done"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Activity(Model):
    """One thing the engine did: an action, a check, a runbook step or a decision."""

    phase: Phase
    kind: str  # action | check | step | decision | rollback
    name: str
    start: float
    end: float | None = None
    status: str = "running"  # succeeded | failed | skipped | running
    output: Any = None
    error: str | None = None
    remote: str | None = Field(default=None, description="how it ran, e.g. ssh://127.10.1.1")


class SystemResult(Model):
    """Measured figures for one system (DESIGN §6). Times are epoch seconds."""

    system: str
    objective_rto_seconds: float
    objective_rpo_seconds: float
    t0: float | None = None
    detection: float | None = None  # first failed probe after t0
    declaration: float | None = None  # promotion seen, or the coordinator's approval
    t1: float | None = None  # first success after which none fails for `stable_seconds`
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    writes_acknowledged: int = 0
    writes_lost: int = 0
    lost_seqs: list[int] = []
    documents_checked: int = 0
    documents_mismatched: int = 0
    split_brain_observations: int = 0
    primary_before: str | None = None
    primary_after: str | None = None
    probe_resolution_seconds: float | None = None
    # restore drills (data-corruption, backup-restore): the point-in-time restore
    restore_target: float | None = None  # recovery stopped before this instant (None: latest)
    last_recovered_transaction: float | None = None  # commit time, from PostgreSQL's log
    restore_seconds: float | None = None  # cluster stopped -> leader restored
    writes_discarded: int = Field(
        default=0, description="acknowledged after the restore target: rolled back by design"
    )

    @property
    def rto_met(self) -> bool:
        return self.rto_seconds is not None and self.rto_seconds <= self.objective_rto_seconds

    @property
    def rpo_met(self) -> bool:
        return (
            self.rpo_seconds is not None
            and self.rpo_seconds <= self.objective_rpo_seconds
            and (self.objective_rpo_seconds > 0 or self.writes_lost == 0)
        )

    @property
    def met(self) -> bool:
        return self.rto_met and self.rpo_met and self.split_brain_observations == 0


class CorrectiveAction(Model):
    id: str
    description: str
    owner: str
    due: str  # ISO date
    status: str = "open"  # open | done


class Samples(Model):
    """Raw probe samples: [epoch, ok, latency_ms] for reads; [epoch, seq, ok] for writes."""

    read: list[tuple[float, bool, float]] = []
    write: list[tuple[float, int, bool]] = []


class Journal(Model):
    drctl_version: str
    run_id: str
    drill_id: str
    drill: dict[str, Any]  # the validated drill file, as run
    target: str
    mode: str
    platform: dict[str, str]
    topology_sha256: str
    started_at: float
    engine_pid: int | None = None  # a running journal whose engine is gone needs recovery
    ended_at: float | None = None
    status: Status = Status.RUNNING
    phase: Phase = Phase.PREFLIGHT
    phases: dict[str, tuple[float, float | None]] = {}
    activities: list[Activity] = []
    pending_rollbacks: list[dict[str, Any]] = Field(
        default=[], description="actions that undo injected faults, in the order to run them"
    )
    systems: dict[str, SystemResult] = {}
    samples: dict[str, Samples] = {}
    corrective_actions: list[CorrectiveAction] = []
    result: str | None = None  # passed | failed
    reasons: list[str] = []
    report_html: str | None = None

    @property
    def started_iso(self) -> str:
        return datetime.fromtimestamp(self.started_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a killed engine never leaves half a journal


def load_journal(path: Path) -> Journal:
    return Journal.model_validate(json.loads(path.read_text(encoding="utf-8")))


def list_journals(directory: Path | None = None) -> list[tuple[Path, Journal]]:
    """All journals in a directory, oldest first."""
    d = directory or journal_dir()
    if not d.is_dir():
        return []
    out = [(p, load_journal(p)) for p in sorted(d.glob("*.json"))]
    return sorted(out, key=lambda pj: pj[1].started_at)
