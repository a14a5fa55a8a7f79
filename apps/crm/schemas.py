"""Request models for CRM, validated before any database work (422 names the field)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from apps.common.types import Body, Name, Text
from apps.common.users import Email
from apps.crm.itil import NUMBER, Kind, Status

Level = Annotated[int, Field(ge=1, le=3)]  # impact and urgency: 1 high .. 3 low
GroupCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9-]{1,39}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Number = Annotated[str, StringConstraints(pattern=NUMBER.pattern)]
Channel = Literal["api", "email", "phone", "self-service", "walk-in", "monitoring"]
CiType = Literal[
    "application", "database", "server", "network", "storage", "service", "workstation"
]  # fmt: skip
Site = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{1,39}$")]


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind = "incident"
    title: Name
    description: Body = ""
    impact: Level = 3
    urgency: Level = 3
    customer_email: Email | None = None
    desk: GroupCode | None = None
    group: GroupCode | None = None
    ci: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    channel: Channel = "api"
    # When the customer reported it (a phone call logged later); SLA clocks start here.
    reported_at: dt.datetime | None = None

    @field_validator("reported_at")
    @classmethod
    def _not_future(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must include a time zone")
        if value > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
            raise ValueError("must not be in the future")
        return value


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Name | None = None
    description: Body | None = None
    impact: Level | None = None
    urgency: Level | None = None
    ci: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status
    note: Text = ""
    resolution: Text | None = None


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: GroupCode
    assignee: Username | None = None


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[Text, StringConstraints(min_length=1)]
    public: bool = True


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")
    incident: Number


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    name: Name
    organisation: Annotated[Text, StringConstraints(max_length=200)] = ""
    site: Site | None = None


class CiIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    ci_type: CiType
    site: Site | None = None
    owner_group: GroupCode | None = None
    status: Literal["planned", "live", "retired"] = "live"
    description: Text = ""


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
