"""Typed models of the plan's own data files next to the topology (inventories/):

- bia.yaml: the business impact analysis, one entry per system;
- governance.yaml: policy texts, teams, activation, training, risks, reviews, actions;
- backups.yaml: backup configuration per system.

Only policy texts are typed by hand; everything else in the plan is derived from these, the
topology, the runbooks and the drill journals.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

SiteName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=40)]
Text = Annotated[str, StringConstraints(min_length=1)]
Seconds = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- bia.yaml -------------------------------------------------------------------------------


class Classification(StrEnum):
    MISSION_CRITICAL = "mission-critical"
    CRITICAL = "critical"
    NON_CRITICAL = "non-critical"


class Severity(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    SEVERE = "severe"


class Impact(Strict):
    """The impact of an outage that has lasted `after_hours`."""

    after_hours: Annotated[float, Field(gt=0)]
    severity: Severity
    description: Text


class BiaEntry(Strict):
    system: SiteName
    business_functions: list[Text] = Field(min_length=1)
    impact: list[Impact] = Field(min_length=1, description="impact of downtime over time")
    mtd_seconds: Seconds = Field(description="maximum tolerable downtime")
    wrt_seconds: Annotated[float, Field(ge=0)] = Field(description="work-recovery time")
    minimum_service_level: Text
    classification: Classification
    justification: Text


class Bia(Strict):
    version: int = Field(ge=1, le=1)
    updated: date
    systems: list[BiaEntry]
    _index: dict[str, BiaEntry] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        for e in self.systems:  # first entry wins; validation reports duplicates
            self._index.setdefault(e.system, e)

    def entry(self, system: str) -> BiaEntry | None:
        return self._index.get(system)


# --- backups.yaml ---------------------------------------------------------------------------


class BackupType(StrEnum):
    FULL = "full"
    DIFFERENTIAL = "differential"
    INCREMENTAL = "incremental"
    WAL_ARCHIVE = "wal-archive"  # continuous archiving: the interval is archive_timeout


class Schedule(Strict):
    type: BackupType
    every_seconds: Seconds


class Repository(Strict):
    name: Text
    site: SiteName | None = Field(default=None, description="a topology site holding it")
    provider: str | None = Field(default=None, description="an outsourced storage provider")
    location: Text
    off_site: bool
    encrypted: bool = True
    immutable: bool = False
    retention_days: Annotated[int, Field(ge=1)]


class RestoreObjectives(Strict):
    """Objectives of a restore from backup (corruption, loss of every replica), which
    replication cannot cover: restore drills are measured against these."""

    rto_seconds: Annotated[float, Field(gt=0)]
    rpo_seconds: Annotated[float, Field(ge=0)]


class SystemBackup(Strict):
    system: SiteName
    tool: Text
    schedules: list[Schedule] = Field(min_length=1)
    repositories: list[Repository] = Field(min_length=1)
    restore_objectives: RestoreObjectives | None = None

    @property
    def best_interval_seconds(self) -> float:
        return min(s.every_seconds for s in self.schedules)


class Backups(Strict):
    version: int = Field(ge=1, le=1)
    updated: date
    systems: list[SystemBackup]
    _index: dict[str, SystemBackup] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        for b in self.systems:
            self._index.setdefault(b.system, b)

    def of(self, system: str) -> SystemBackup | None:
        return self._index.get(system)


# --- governance.yaml ------------------------------------------------------------------------


class SignOff(Strict):
    role: Text
    name: Text


class Document(Strict):
    title: Text
    owner: Text
    classification: Text = "internal"
    sign_off: list[SignOff] = Field(min_length=1)
    review_cycle_months: Annotated[int, Field(ge=1, le=36)] = 12
    last_review: date
    reviewed_by: Text
    updated: date


class Phase(Strict):
    name: Text
    activities: list[Text] = Field(min_length=1)


class Policy(Strict):
    statement: Text
    scope: Text
    worst_case_assumption: Text
    objectives: list[Text] = Field(min_length=1)
    principles: list[Text] = []
    standards: list[Text] = Field(min_length=1)
    governance: Text
    programme: list[Phase] = Field(min_length=1)


class Contact(Strict):
    name: Text
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]
    phone: Text


class Member(Contact):
    role: Text
    alternate: Contact | None = None


class Team(Strict):
    """A site's incident team; its name is the site's `team` in the topology."""

    members: list[Member] = Field(min_length=1)
    escalation: list[Text] = Field(min_length=1)


class Coordinator(Member):
    pass


class Notification(Strict):
    who: Text | None = None
    team: SiteName | None = Field(default=None, description="a site whose team is notified")
    channel: Text
    within_minutes: Annotated[int, Field(ge=0)]


class Activation(Strict):
    criteria: list[Text] = Field(min_length=1)
    decides: Text
    deputy: Text
    notification: list[Notification] = Field(min_length=1)
    deactivation: list[Text] = Field(min_length=1)


class Training(Strict):
    course: Text
    audience: Text
    every_months: Annotated[int, Field(ge=1)]


class TrainingRecord(Strict):
    person: Text
    course: Text
    completed: date


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Risk(Strict):
    id: Text
    threat: Text
    likelihood: Level
    impact: Level
    mitigation: Text
    owner: Text


class Action(Strict):
    id: Text
    description: Text
    owner: Text
    due: date
    status: Annotated[str, StringConstraints(pattern=r"^(open|done)$")] = "open"


class Outsourced(Strict):
    service: Text
    provider: Text
    responsibilities: Text
    service_level: Text


class Control(Strict):
    area: Text
    control: Text


class KeptLocal(Strict):
    system: Text
    where: Text
    reason: Text


class Facility(Strict):
    capacity: Text
    power_environment: Text
    telecommunications: Text


class Term(Strict):
    term: Text
    definition: Text


# Triggers a waiver may suspend: the per-system ones about drill evidence, which only running a
# drill can resolve. The others are resolved by fixing the data or rendering the plan again.
WAIVABLE = ("drill_overdue", "drill_missed_objective", "topology_changed_since_drill")


class Waiver(Strict):
    """An accepted, time-limited exception to an update trigger for named systems, e.g. the grace
    period of a new system before its first drill. It is shown in the plan; once it expires the
    trigger fires again."""

    id: Text
    trigger: Literal["drill_overdue", "drill_missed_objective", "topology_changed_since_drill"]
    systems: list[SiteName] = Field(min_length=1)
    reason: Text
    approved_by: Text
    granted: date
    expires: date

    def active(self, day: date) -> bool:
        return self.granted <= day <= self.expires


class Governance(Strict):
    version: int = Field(ge=1, le=1)
    document: Document
    policy: Policy
    coordinator: Coordinator
    teams: dict[SiteName, Team]
    activation: Activation
    training_required: list[Training] = Field(min_length=1)
    training_records: list[TrainingRecord] = []
    risks: list[Risk] = Field(min_length=1)
    corrective_actions: list[Action] = []
    outsourced: list[Outsourced] = []
    security_controls: list[Control] = Field(min_length=1)
    kept_local: list[KeptLocal] = []
    facilities: dict[SiteName, Facility] = {}
    glossary: list[Term] = Field(min_length=1)
    waivers: list[Waiver] = []
