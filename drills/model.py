"""Typed models of drill files and runbooks (YAML), in Chaos Toolkit's vocabulary.

Validation is separate from execution: `drills.load` checks a whole file (and the runbooks and
topology it refers to) before anything touches the estate.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from drills.vocabulary import ACTIONS, CHECKS

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=60)]
Scalar = str | int | float | bool


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Target(StrEnum):
    LAB = "lab"
    LAB_SSH = "lab-ssh"
    PRODUCTION = "production"


class Mode(StrEnum):
    DISRUPTIVE = "disruptive"
    ISOLATED = "isolated"


class OnFailure(StrEnum):
    ABORT = "abort"  # stop the runbook; the engine goes to failback/rollback
    CONTINUE = "continue"


Table = dict[str, tuple[frozenset[str], frozenset[str]]]


# Field validators, not one model validator, so that a problem names its field: a file's
# `method[0].action` is unknown, or `method[0].args` lacks one.
def _known_name(kind: str, table: Table, name: str) -> str:
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(table))}")
    return name


def _known_args(kind: str, table: Table, info: ValidationInfo, args: dict[str, Scalar]) -> None:
    name = info.data.get(kind)  # absent when the name itself was invalid: reported there
    if name is None:
        return
    required, optional = table[name]
    missing = required - args.keys()
    if missing:
        raise ValueError(f"{kind} {name!r} needs argument(s) {', '.join(sorted(missing))}")
    extra = args.keys() - required - optional
    if extra:
        raise ValueError(f"{kind} {name!r} does not take argument(s) {', '.join(sorted(extra))}")


class Action(Strict):
    """One allow-listed action, e.g. {action: site.power_off, args: {site: brindisi}}."""

    action: str
    args: dict[str, Scalar] = Field(default={}, validate_default=True)
    timeout_seconds: Annotated[float, Field(gt=0)] = 60

    @field_validator("action")
    @classmethod
    def _known_action(cls, name: str) -> str:
        return _known_name("action", ACTIONS, name)

    @field_validator("args")
    @classmethod
    def _action_args(cls, args: dict[str, Scalar], info: ValidationInfo) -> dict[str, Scalar]:
        _known_args("action", ACTIONS, info, args)
        return args


class Check(Strict):
    """A read-only probe with a tolerance: passes when the check returns true."""

    name: str
    check: str
    args: dict[str, Scalar] = Field(default={}, validate_default=True)

    @field_validator("check")
    @classmethod
    def _known_check(cls, name: str) -> str:
        return _known_name("check", CHECKS, name)

    @field_validator("args")
    @classmethod
    def _check_args(cls, args: dict[str, Scalar], info: ValidationInfo) -> dict[str, Scalar]:
        _known_args("check", CHECKS, info, args)
        return args


class SteadyState(Strict):
    title: str
    probes: list[Check] = Field(min_length=1)


class Load(Strict):
    """Continuous probing during the drill: how RTO and RPO are seen (DESIGN §6)."""

    frequency_hz: Annotated[float, Field(ge=10, le=100)] = 20
    writers: bool = True
    documents: bool = Field(default=True, description="ECM documents checked by SHA-256")
    stable_seconds: Annotated[float, Field(gt=0)] = 5


class Recovery(Strict):
    runbook: str | Literal["automatic"] = "automatic"
    timeout_seconds: Annotated[float, Field(gt=0)] = 180


class Failback(Strict):
    runbook: str | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 300


class Drill(Strict):
    """A drill file (drills/catalogue/*.yaml)."""

    title: str
    description: str
    kind: Literal[
        "site-loss",
        "leader-crash",
        "partition",
        "wan-latency",
        "switchover",
        "hub-isolation",
        "isolated-test",
        "data-corruption",
        "backup-restore",
    ]
    target: Target = Target.LAB
    mode: Mode = Mode.DISRUPTIVE
    systems: list[Name] = Field(min_length=1)
    parameters: dict[Name, Scalar] = Field(
        default={}, description="values for the runbooks' placeholders, e.g. site, survivor"
    )
    steady_state: SteadyState = Field(alias="steady-state-hypothesis")
    load: Load = Load()
    method: list[Action] = Field(min_length=0, description="the fault, injected at t0")
    recovery: Recovery = Recovery()
    verification: list[Check] = []
    failback: Failback = Failback()
    rollbacks: list[Action] = Field(default=[], description="undo the fault; always run")
    expect_failover: bool = Field(default=True, description="the primary moves during the drill")


RESTORE_KINDS = frozenset({"data-corruption", "backup-restore"})


class Step(Strict):
    """A runbook step: automated (an action) or manual (a coordinator confirms)."""

    name: str
    owner: str
    action: str | None = None
    args: dict[str, Scalar] = Field(default={}, validate_default=True)
    manual: bool = False
    instructions: str = ""
    per_system: bool = Field(default=False, description="repeat for each system in scope")
    timeout_seconds: Annotated[float, Field(gt=0)] = 60
    on_failure: OnFailure = OnFailure.ABORT
    expected_seconds: Annotated[float, Field(ge=0)] = 5

    @field_validator("action")
    @classmethod
    def _known_action(cls, name: str | None) -> str | None:
        return None if name is None else _known_name("action", ACTIONS, name)

    @field_validator("args")
    @classmethod
    def _action_args(cls, args: dict[str, Scalar], info: ValidationInfo) -> dict[str, Scalar]:
        # placeholders like "{site}" are filled at run time; check the names only
        _known_args("action", ACTIONS, info, args)
        return args

    @model_validator(mode="after")
    def _automated_or_manual(self) -> Step:
        if self.manual == (self.action is not None):
            raise ValueError("a step is either manual (manual: true) or names an action")
        return self


class Runbook(Strict):
    """A recovery or failback runbook (runbooks/*.yaml)."""

    title: str
    kind: Literal["recovery", "failback"]
    description: str
    parameters: list[Name] = Field(default=[], description="filled from the drill, e.g. site")
    steps: list[Step] = Field(min_length=1)

    def render_args(self, args: dict[str, Scalar], values: dict[str, Any]) -> dict[str, Scalar]:
        return {k: (v.format(**values) if isinstance(v, str) else v) for k, v in args.items()}
